"""Discount policies, guardrails and (later) uplift models, bandits, RL and off-policy evaluation."""
