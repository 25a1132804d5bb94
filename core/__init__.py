"""Shared core: configuration, logging and the domain types every layer speaks."""
