"""`offerpilot finetune llm` end to end on a sliver of data: it trains, saves an adapter the agent can load,
records the split and the loss curve, and does so reproducibly for a seed."""

from __future__ import annotations

import json
import math
from pathlib import Path

from finetune.llm import LlmFinetuneConfig, run
from retrieval.encoder import ADAPTER_FILES, METADATA_FILE


def tiny(out_dir: Path) -> LlmFinetuneConfig:
    return LlmFinetuneConfig(
        out_dir=out_dir, per_template=1, held_out_per_template=1, batch_size=2, max_steps=2, eval_examples=0
    )


def test_a_short_run_saves_a_reproducible_adapter(tmp_path: Path) -> None:
    first = run(tiny(tmp_path / "a"), progress=False)
    second = run(tiny(tmp_path / "b"), progress=False)
    for name in (*ADAPTER_FILES, METADATA_FILE):
        assert (tmp_path / "a" / name).exists()
    assert first["adapter_digest"] == second["adapter_digest"]
    assert first["loss_curve"] == second["loss_curve"] and all(math.isfinite(x) for x in first["loss_curve"])
    saved = json.loads((tmp_path / "a" / METADATA_FILE).read_text())
    assert saved["steps"] == 2 and saved["base_model"].startswith("SmolLM2-135M")
    assert set(saved["data"]["train_templates"]).isdisjoint(saved["data"]["test_templates"])
