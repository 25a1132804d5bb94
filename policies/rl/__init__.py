"""Reinforcement-learning dynamic discount: a calibrated season simulator, baselines, agents and an adapter."""
