"""`offerpilot bench agent-curve`: how the router's held-out accuracy moves with data size, LoRA rank and epochs.

Each point trains a fresh adapter with `finetune.llm.run` (same seed, same template split) into a scratch
directory and decodes the same held-out examples greedily, in float32 as the service runs. The
committed adapter is scored on those examples too, from its own files. Held-out examples come from
templates no adapter trained on, so the curve measures generalisation to new phrasings, not recall.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.llm_local import ADAPTER_DIR, LocalLLM
from bench.report import RESULTS_DIR, markdown_table, print_table, write_results
from finetune.llm import LlmFinetuneConfig, evaluate, sample_examples
from finetune.llm import run as finetune
from finetune.llm_data import split
from retrieval.encoder import METADATA_FILE

COLUMNS = (
    "point",
    "per_template",
    "train_examples",
    "lora_rank",
    "epochs",
    "train_s",
    "tool_accuracy",
    "call_accuracy",
)


@dataclass(frozen=True)
class CurvePoint:
    name: str
    per_template: int
    lora_rank: int = 8
    epochs: int = 1


# The committed adapter is per_template=12, rank 8, one epoch; these vary one axis at a time around a
# cheaper centre (3 per template) so the whole curve fits in about forty minutes on two cores.
POINTS = (
    CurvePoint("data_3", per_template=3),
    CurvePoint("data_6", per_template=6),
    CurvePoint("rank_16", per_template=3, lora_rank=16),
    CurvePoint("epochs_2", per_template=3, epochs=2),
)


@dataclass
class AgentCurveConfig:
    points: tuple[CurvePoint, ...] = POINTS
    eval_examples: int = 80
    threads: int = 2
    seed: int = 17
    out_dir: Path = RESULTS_DIR


def run(config: AgentCurveConfig | None = None) -> dict[str, Any]:
    config = config or AgentCurveConfig()
    started = time.perf_counter()
    base = LlmFinetuneConfig(seed=config.seed, threads=config.threads, eval_examples=0)
    _, test = split(base.per_template, base.held_out_per_template, base.seed)
    held_out = sample_examples(test, config.eval_examples, config.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="offerpilot-agent-curve-") as scratch:
        for point in config.points:
            point_config = replace(
                base,
                out_dir=Path(scratch) / point.name,
                per_template=point.per_template,
                lora_rank=point.lora_rank,
                epochs=point.epochs,
            )
            metadata = finetune(point_config)
            scores = evaluate(LocalLLM(point_config.out_dir, threads=config.threads), held_out)
            rows.append(_row(point.name, metadata, scores))
            print_table("Router accuracy on held-out templates", [rows[-1]], COLUMNS)
    committed = json.loads((ADAPTER_DIR / METADATA_FILE).read_text())
    scores = evaluate(LocalLLM(ADAPTER_DIR, threads=config.threads), held_out)
    rows.append(_row("committed", committed, scores))
    rows.sort(key=lambda r: (r["lora_rank"], r["epochs"], r["train_examples"]))
    print_table("Router accuracy on held-out templates", rows, COLUMNS)
    seconds = round(time.perf_counter() - started, 1)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    _plot(rows, config.out_dir / "agent_curve.png")
    payload = {"rows": rows, "held_out_examples": len(held_out), "seconds": seconds}
    summary = f"""# Router learning curve (held-out templates)

Made by `offerpilot bench agent-curve` in {seconds:.0f} s. Every point is a fresh LoRA adapter on
SmolLM2-135M-Instruct (seed {config.seed}, the same template split), scored by greedy decoding of the same
{len(held_out)} examples from held-out templates (float32 weights): `tool_accuracy` is the right tool,
`call_accuracy` the right tool with exactly the right arguments. `committed` is the served adapter.

{markdown_table(rows, COLUMNS)}

![curve](agent_curve.png)
"""
    write_results("agent_curve", payload, summary, config.out_dir)
    return payload


def _row(name: str, metadata: dict[str, Any], scores: dict[str, float]) -> dict[str, Any]:
    settings = metadata["config"]
    return {
        "point": name,
        "per_template": settings["per_template"],
        "train_examples": metadata["data"]["train_examples"],
        "lora_rank": settings["lora_rank"],
        "epochs": settings["epochs"],
        "train_s": metadata["train_seconds"],
        "tool_accuracy": round(scores["tool_accuracy"], 4),
        "call_accuracy": round(scores["call_accuracy"], 4),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (rank, epochs), marker in zip(sorted({(r["lora_rank"], r["epochs"]) for r in rows}), "osd^v", strict=False):
        mine = sorted(
            (r for r in rows if (r["lora_rank"], r["epochs"]) == (rank, epochs)), key=lambda r: r["train_examples"]
        )
        xs = [r["train_examples"] for r in mine]
        label = f"rank {rank}, {epochs} epoch(s)"
        ax.plot(xs, [r["call_accuracy"] for r in mine], marker=marker, label=f"call accuracy, {label}")
        ax.plot(xs, [r["tool_accuracy"] for r in mine], marker=marker, linestyle="--", label=f"tool accuracy, {label}")
    ax.set(xlabel="training examples", ylabel="held-out accuracy", ylim=(0, 1), title="Router learning curve")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
