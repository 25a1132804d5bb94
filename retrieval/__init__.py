"""Retrieval: the text encoder, text builders, FAISS indexes and rankers."""
