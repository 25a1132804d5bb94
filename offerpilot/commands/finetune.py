"""`offerpilot finetune encoder`: contrastive LoRA fine-tuning of the sentence encoder on real purchases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

finetune_app = typer.Typer(help="Fine-tune the project's models.", no_args_is_help=True)
console = Console()


@finetune_app.command("encoder")
def encoder(
    data: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Online Retail CSV (default: ../shared/datasets).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Where the adapter goes (default: the committed one).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling, initialisation and shuffling.")] = 13,
    max_queries: Annotated[
        int, typer.Option(min=16, help="History texts to train on (each with 4 positives).")
    ] = 3_000,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training examples.")] = 1,
    lora_rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
) -> None:
    """Train the LoRA adapter (history → next basket, up to 2011-08-31; September picks the checkpoint)."""
    from finetune.encoder import FinetuneConfig, train

    config = FinetuneConfig(seed=seed, max_queries=max_queries, epochs=epochs, lora_rank=lora_rank)
    if data:
        config.data_path = data
    if out_dir:
        config.out_dir = out_dir
    metadata = train(config)
    metrics = metadata["metrics"]
    console.print(
        f"adapter {metadata['version']} in {config.out_dir}: validation NDCG@10 "
        f"{metrics['checkpoints'][0]['valid_ndcg@10']} (base) → {metrics['best_valid_ndcg@10']} "
        f"(step {metrics['best_step']}), {metadata['seconds']:.0f} s"
    )
