"""The encoder fine-tuning pipeline end to end on a real slice: one step, a loadable adapter, its metadata."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from finetune.encoder import FinetuneConfig, train
from retrieval.encoder import Encoder, base_version
from tests.test_retrieval_splits import write_slice


def test_one_step_produces_a_loadable_adapter_with_metadata(tmp_path):
    out = tmp_path / "adapter"
    config = FinetuneConfig(
        data_path=write_slice(tmp_path),
        out_dir=out,
        cache_dir=tmp_path / "cache",
        categorize=False,
        max_queries=4,
        positives_per_query=2,
        negatives_per_query=1,
        batch_size=2,
        valid_cases=2,
        validations=1,
        max_steps=1,
        threads=1,
    )
    metadata = train(config)

    saved = json.loads((out / "metadata.json").read_text())
    assert saved == json.loads(json.dumps(metadata))
    assert saved["base_model"] == base_version()
    assert saved["data"]["train"] == "baskets before 2011-09-01"
    assert saved["config"]["seed"] == saved["seed"] == 13 and saved["config"]["max_steps"] == 1
    assert [c["step"] for c in saved["metrics"]["checkpoints"]] == [0, 1]
    assert (out / "adapter_model.safetensors").stat().st_size < 10_000_000

    encoder = Encoder(out)
    assert encoder.version == saved["version"]
    assert encoder.version.startswith(base_version() + "+lora-")
    vectors = encoder.encode(["lunch bag black skull", "Bought: vintage christmas bunting."])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)

    again = train(replace(config, out_dir=tmp_path / "again"))
    assert again["version"] == saved["version"]  # same seed and data: the same adapter, byte for byte
