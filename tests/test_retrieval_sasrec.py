"""SASRec: shapes through forward and backward, causality, and a tiny sequence set it must learn by heart."""

from __future__ import annotations

import pytest
import torch

from retrieval.sasrec import SASRec, SASRecConfig, left_pad, windows


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second thread only adds hand-off cost, ruinous on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_forward_backward_shapes_and_causality():
    torch.manual_seed(0)
    config = SASRecConfig(max_len=6, dim=16, heads=2, layers=2, dropout=0.0)
    model = SASRec(n_items=10, config=config)
    tokens = left_pad([[1, 2, 3], [4, 5, 6, 7, 8, 9]], config.max_len)
    assert tokens.tolist()[0] == [0, 0, 0, 1, 2, 3]
    hidden = model(tokens)
    assert hidden.shape == (2, 6, 16)
    logits = model.logits(hidden)
    assert logits.shape == (2, 6, 10)
    logits.sum().backward()
    assert model.items.weight.grad is not None and model.items.weight.grad.shape == (11, 16)

    changed = tokens.clone()
    changed[1, -1] = 2  # a later product must not move what earlier positions see
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(tokens)[1, :-1], model(changed)[1, :-1])


def test_windows_cut_from_the_end():
    assert windows(list(range(1, 12)), max_len=4, count=2) == [[7, 8, 9, 10, 11], [3, 4, 5, 6, 7]]


def test_tiny_overfit():
    torch.manual_seed(0)
    config = SASRecConfig(max_len=4, dim=32, heads=2, layers=2, dropout=0.0)
    model = SASRec(n_items=8, config=config)
    sequences = [[1, 2, 3, 4, 5], [6, 7, 8, 1, 2], [3, 5, 7, 2, 4]]
    batch = left_pad(sequences, config.max_len + 1)
    inputs, targets = batch[:, :-1], batch[:, 1:]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(80):
        loss = torch.nn.functional.cross_entropy(model.logits(model(inputs)).reshape(-1, 8), (targets - 1).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model.logits(model(inputs)).argmax(-1) + 1
    assert loss.item() < 0.05
    assert torch.equal(predicted, targets)
