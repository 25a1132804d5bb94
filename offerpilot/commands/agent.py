"""`offerpilot ask "QUESTION"`, `offerpilot finetune llm` and `offerpilot bench agent`.

Plain functions, registered in `offerpilot.cli` under the top level, the finetune group and the bench group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def ask(
    question: Annotated[str, typer.Argument(help="A marketer's question, in plain words.")],
    allow_write: Annotated[
        bool, typer.Option(help="Let the agent issue offers (through the budget and eligibility guardrails).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer, table and tool calls as JSON.")] = False,
) -> None:
    """Ask the agent: it picks tools, runs them over the store and answers from their results."""
    from agent.backends import build_backend
    from agent.core import Agent
    from core.config import get_settings
    from core.logs import configure_logging
    from retrieval.encoder import get_encoder
    from services.offers import OfferService
    from store.db import Database

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    with console.status(f"loading the store and the {settings.llm} model"):
        service = OfferService.create(settings, Database(settings.db_url), get_encoder())
        agent = Agent(build_backend(settings.llm), service)
    turn = agent.ask(question, can_write=allow_write)
    if as_json:
        payload = {"answer": turn.answer, "table": turn.table, "tool_calls": turn.tool_calls}
        console.print_json(json.dumps(payload, default=str))
        return
    console.print(turn.answer)
    if turn.table:
        table = Table(show_lines=False)
        for column in turn.table[0]:
            table.add_column(column)
        for row in turn.table:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)
    for call in turn.tool_calls:
        console.print(f"[dim]tool {call['tool']}({json.dumps(call['args'], default=str)})[/]")


def finetune_llm(
    out_dir: Annotated[Path | None, typer.Option(help="Where the adapter goes (default: the committed one).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the examples, initialisation and shuffling.")] = 17,
    per_template: Annotated[int, typer.Option(min=1, help="Training examples per kept template.")] = 12,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training examples.")] = 1,
    lora_rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for torch.")] = 2,
    eval_examples: Annotated[int, typer.Option(min=0, help="Held-out examples decoded at the end.")] = 40,
) -> None:
    """LoRA SFT of SmolLM2-135M-Instruct on the tools' own call examples (held-out templates evaluated)."""
    from finetune.llm import LlmFinetuneConfig, run

    config = LlmFinetuneConfig(
        seed=seed,
        per_template=per_template,
        epochs=epochs,
        lora_rank=lora_rank,
        threads=threads,
        eval_examples=eval_examples,
    )
    if out_dir is not None:
        config.out_dir = out_dir
    metadata = run(config)
    console.print(
        f"adapter {metadata['adapter_digest']} in {config.out_dir}: {metadata['steps']} steps in "
        f"{metadata['train_seconds']:.0f} s; held-out {json.dumps(metadata['held_out_eval'])}"
    )


def bench_agent(
    runs: Annotated[int, typer.Option(min=1, help="Sampled runs per task for pass^k.")] = 3,
    base_runs: Annotated[
        int | None,
        typer.Option(min=1, help="Runs of local_base and local_lora_int8, if fewer are affordable (default: --runs)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tasks (a documented subset).")] = None,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for torch.")] = 2,
    int8: Annotated[bool, typer.Option(help="Add local_lora_int8: the adapter on int8 weights.")] = False,
) -> None:
    """τ-bench-style agent tasks on the demo store: tool accuracy, pass^1, pass^3, faithfulness, turn time.

    Rows local_lora and local_base, plus the OpenAI-compatible server when OFFERPILOT_LLM names one."""
    from bench.agent import AgentBenchConfig, run
    from core.config import get_settings

    setting = get_settings().llm
    openai = setting if setting.startswith("openai:") else None
    backends = ("local_lora", "local_lora_int8", "local_base") if int8 else ("local_lora", "local_base")
    config = AgentBenchConfig(
        runs=runs, base_runs=base_runs, limit=limit, threads=threads, backends=backends, openai=openai
    )
    run(config)


def bench_agent_curve(
    eval_examples: Annotated[int, typer.Option(min=10, help="Held-out examples decoded per adapter.")] = 80,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for torch.")] = 2,
) -> None:
    """Router accuracy on held-out templates against data size, LoRA rank and epochs (trains 4 adapters)."""
    from bench.agent_curve import AgentCurveConfig, run

    run(AgentCurveConfig(eval_examples=eval_examples, threads=threads))
