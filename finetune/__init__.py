"""Offline training of the project's adapters: `encoder` (retrieval) and `llm` (the agent's router)."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and torch's generators from one seed, so a run can be repeated exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
