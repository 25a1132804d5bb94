"""LoRA supervised fine-tuning of SmolLM2-135M-Instruct: a question → the one JSON tool call that answers it.

Data come from finetune/llm_data.py (templates filled with demo values, split by template). The loss is
the cross-entropy of the answer tokens only (after the fixed `{"tool": "` start, up to the end of turn).

Sized for two shared CPU cores, three choices keep a run within about half an hour:
- the system prompt (rules and tool list, ~200 tokens) is the same in every example, so each step runs
  it once and shares its attention cache across the batch; only the ~60 tokens of each example's own
  question and answer are run per example (gradients still flow through the shared part), which made a
  step three times cheaper than running whole sequences;
- LoRA sits on the top 16 of 30 layers only, so the backward pass stops there;
- one epoch over about two thousand examples: the format is learnt in a few dozen steps, the rest
  teaches tool choice and argument extraction.

Seeded end to end; the adapter is saved with a metadata file naming the data, the split, the config,
the loss curve and the held-out accuracy of greedy decoding.
"""

from __future__ import annotations

import json
import math
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from agent.calls import CallError, parse_call
from agent.llm_local import ADAPTER_DIR, BASE_NAME, LocalLLM, load_base
from agent.prompting import CALL_PREFIX, END_OF_TURN, ROUTER_PROMPT, chat_markup, router_system
from agent.schemas import TOOLS
from finetune import seed_everything
from finetune.llm_data import HELD_OUT_EVERY, Example, canonical_args, split
from retrieval.encoder import METADATA_FILE, adapter_digest


@dataclass
class LlmFinetuneConfig:
    out_dir: Path = ADAPTER_DIR
    seed: int = 17
    threads: int = 2
    per_template: int = 12  # training examples per kept template
    held_out_per_template: int = 5
    # model
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    lora_layers: int = 16  # the top 16 of 30 layers; gradients stop below them
    # optimisation
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_share: float = 0.06
    weight_decay: float = 0.0
    max_steps: int | None = None  # cut the run short (tests)
    eval_examples: int = 40  # held-out examples decoded greedily at the end (0 skips)
    extra: dict[str, Any] = field(default_factory=dict)


def encode(tokenizer: Any, example: Example) -> tuple[list[int], int]:
    """Token ids of the example's own turn plus answer, and where the answer starts."""
    _, suffix = chat_markup("", example.user)
    prompt = tokenizer(suffix, add_special_tokens=False).input_ids
    answer = tokenizer(example.target[len(CALL_PREFIX) :] + END_OF_TURN, add_special_tokens=False).input_ids
    return prompt + answer, len(prompt)


def batches(rows: list[tuple[list[int], int]], size: int, rng: random.Random) -> list[list[tuple[list[int], int]]]:
    order = list(range(len(rows)))
    rng.shuffle(order)
    return [[rows[i] for i in order[start : start + size]] for start in range(0, len(order), size)]


def step_loss(model: Any, prefix_ids: torch.Tensor, batch: list[tuple[list[int], int]], pad_id: int) -> torch.Tensor:
    """Mean answer-token cross-entropy of a batch that shares the system prompt's attention cache."""
    n, p = len(batch), prefix_ids.shape[1]
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    mask = torch.zeros((n, p + width), dtype=torch.long)
    mask[:, :p] = 1
    for row, (ids, answer_at) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, answer_at : len(ids)] = torch.tensor(ids[answer_at:])
        mask[row, p : p + len(ids)] = 1
    cache = model(input_ids=prefix_ids, use_cache=True).past_key_values
    cache.batch_repeat_interleave(n)
    positions = torch.arange(p, p + width).expand(n, width)
    logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, cache=cache).logits
    # Token t predicts token t+1; the first answer token is predicted from the last prompt token.
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


def call_matches(text: str, example: Example) -> tuple[bool, bool]:
    """(right tool, right tool and arguments) for a generated call, arguments compared canonically."""
    try:
        call = parse_call(text)
    except CallError:
        return False, False
    if call.tool != example.tool:
        return False, False
    if set(call.args) - set(TOOLS[call.tool].args.model_fields):
        return True, False
    try:
        return True, canonical_args(call.tool, call.args) == example.args
    except (ValueError, TypeError):
        return True, False


def evaluate(llm: LocalLLM, examples: Sequence[Example]) -> dict[str, float]:
    """Greedy decoding of held-out examples: share with the right tool, and with the right tool and args."""
    system = router_system()
    tools = calls = 0
    for example in examples:
        prefix, suffix = chat_markup(system, example.user)
        text = CALL_PREFIX + llm.continue_text(prefix, suffix, max_new_tokens=72)
        tool_ok, call_ok = call_matches(text, example)
        tools += tool_ok
        calls += call_ok
    n = max(len(examples), 1)
    return {"tool_accuracy": tools / n, "call_accuracy": calls / n, "examples": len(examples)}


def run(config: LlmFinetuneConfig, progress: bool = True) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    started = time.time()
    seed_everything(config.seed)
    torch.set_num_threads(config.threads)
    train, test = split(config.per_template, config.held_out_per_template, config.seed)
    base, tokenizer = load_base(config.threads)
    layers = base.config.num_hidden_layers
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        layers_to_transform=list(range(layers - config.lora_layers, layers)),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    model.train()
    rows = [encode(tokenizer, example) for example in train]
    prefix, _ = chat_markup(router_system(), "")
    prefix_ids = torch.tensor([tokenizer(prefix, add_special_tokens=False).input_ids])
    pad_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    rng = random.Random(config.seed)
    plan = [b for _ in range(config.epochs) for b in batches(rows, config.batch_size, rng)]
    if config.max_steps is not None:
        plan = plan[: config.max_steps]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    warmup = max(1, int(len(plan) * config.warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (len(plan) - warmup)))
        ),
    )
    losses: list[float] = []
    bar = tqdm(plan, desc="finetune llm", unit="step", disable=not progress)
    for batch in bar:
        loss = step_loss(model, prefix_ids, batch, pad_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
    train_s = time.time() - started
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's empty model card; metadata.json says it all
    held_out = sample_examples(test, config.eval_examples, config.seed)
    evaluation: dict[str, Any] = {}
    if held_out:
        tuned = LocalLLM(out_dir, threads=config.threads)
        evaluation = evaluate(tuned, held_out)
    metadata = {
        "base_model": BASE_NAME,
        "adapter_digest": adapter_digest(out_dir),
        "created_at": datetime.now(UTC).isoformat(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "prompt": ROUTER_PROMPT,
        "tools": sorted(TOOLS),
        "data": {
            "train_examples": len(train),
            "test_examples": len(test),
            "train_templates": sorted({e.template for e in train}),
            "test_templates": sorted({e.template for e in test}),
            "split_rule": f"template i of each tool and audience is held out when i % {HELD_OUT_EVERY} == "
            f"{HELD_OUT_EVERY - 1}",
        },
        "steps": len(plan),
        "loss_curve": losses,
        "train_seconds": round(train_s, 1),
        "total_seconds": round(time.time() - started, 1),
        "held_out_eval": evaluation,
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": config.threads},
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=1) + "\n")
    return metadata


def sample_examples(examples: list[Example], n: int, seed: int) -> list[Example]:
    if n <= 0:
        return []
    return random.Random(seed).sample(examples, min(n, len(examples)))
