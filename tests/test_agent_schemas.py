"""Tool argument schemas, call parsing and the fine-tuning data built on them (no model, no store)."""

from __future__ import annotations

import pytest

from agent.backends import json_complete, parse_setting
from agent.calls import CallError, ToolCall, parse_call, validate
from agent.prompting import CALL_PREFIX, chat_markup, render_call, router_system
from agent.schemas import TOOLS, canonical_category, parse_days, parse_money
from bench.agent_tasks import TASKS
from finetune.llm_data import TEMPLATES, canonical_args, check_vocabulary, held_out, split


@pytest.mark.parametrize(
    ("written", "category"),
    [
        ("candles", "Candles & Holders"),
        ("Candles & Holders", "Candles & Holders"),
        ("tea lights", "Candles & Holders"),
        ("home decor", "Home Decor"),
        ("xmas", "Christmas Decorations"),
        ("christmas", "Christmas Decorations"),
        ("kids", "Children's"),
        ("Jewelery & Accessories", "Jewellery & Accessories"),
    ],
)
def test_categories_are_canonical_whatever_the_wording(written: str, category: str) -> None:
    assert canonical_category(written) == category


def test_an_unknown_category_is_refused_with_the_list() -> None:
    with pytest.raises(ValueError, match="categories are: Candles & Holders"):
        canonical_category("spaceships")


@pytest.mark.parametrize(("written", "value"), [("£2k", 2000), ("£2,000", 2000), ("2500 pounds", 2500), (750, 750)])
def test_money_is_read_as_people_write_it(written: object, value: float) -> None:
    assert parse_money(written) == value


@pytest.mark.parametrize(("written", "days"), [("90 days", 90), ("3 months", 90), ("a year", 365), (45, 45)])
def test_days_are_read_as_people_write_them(written: object, days: int) -> None:
    assert parse_days(written) == days


def test_no_tool_accepts_a_discount_cost_or_override() -> None:
    """Safety by construction: nothing a conversation says can set a depth, a cost or a cap."""
    forbidden = {"depth", "discount", "percent", "value", "max_cost", "cost", "propensity", "override"}
    for spec in TOOLS.values():
        assert not forbidden & set(spec.args.model_fields), spec.name


def test_unknown_arguments_are_refused_not_dropped() -> None:
    with pytest.raises(CallError, match="depth"):
        validate(ToolCall("recommend_offers", {"customer_id": "12347", "depth": 90}))


def test_missing_arguments_are_named() -> None:
    with pytest.raises(CallError) as error:
        validate(ToolCall("plan_campaign", {"lapsed_days": 60}))
    assert set(error.value.missing) == {"coupon", "budget"}


def test_an_unknown_tool_lists_the_tools() -> None:
    with pytest.raises(CallError, match="customer_profile"):
        validate(ToolCall("give_discount", {}))


def test_plan_arguments_are_normalised() -> None:
    args = validate(
        ToolCall("plan_campaign", {"coupon": "10% off home decor", "budget": "£2k", "categories": ["candles"]})
    )
    assert args.budget == 2000 and args.categories == ["Candles & Holders"]


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ('{"tool": "customer_profile", "args": {"customer_id": "12347"}} and more', "customer_profile", {}),
        ('  {"tool": "search_coupons", "args": {"query": "bags"}}', "search_coupons", {"query": "bags"}),
    ],
)
def test_calls_parse_despite_trailing_chatter(text: str, tool: str, args: dict) -> None:
    call = parse_call(text)
    assert call.tool == tool and (not args or call.args == args)


@pytest.mark.parametrize("text", ["no json here", '{"tool": "x", "args": [1]}', '{"args": {}}', '{"tool": "a", '])
def test_malformed_calls_are_errors(text: str) -> None:
    with pytest.raises(CallError):
        parse_call(text)


def test_json_completion_ignores_braces_in_strings() -> None:
    assert json_complete('{"tool": "a", "args": {"q": "}{"}}')
    assert not json_complete('{"tool": "a", "args": {"q": "}"')


@pytest.mark.parametrize(
    ("setting", "parsed"),
    [
        ("local", ("local", None, None)),
        ("local:base", ("local:base", None, None)),
        ("openai:qwen2.5@http://127.0.0.1:8000/v1", ("openai", "qwen2.5", "http://127.0.0.1:8000/v1")),
        ("ollama:llama3.2@http://127.0.0.1:11434", ("ollama", "llama3.2", "http://127.0.0.1:11434")),
    ],
)
def test_backend_settings(setting: str, parsed: tuple) -> None:
    assert parse_setting(setting) == parsed


def test_a_malformed_backend_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="openai:MODEL@BASE_URL"):
        parse_setting("openai:gpt")


def test_the_router_prompt_lists_every_tool_and_the_answer_starts_the_call() -> None:
    system = router_system()
    assert all(spec.signature in system for spec in TOOLS.values())
    prefix, suffix = chat_markup(system, "hello")
    assert prefix.startswith("<|im_start|>system") and suffix.endswith(CALL_PREFIX)
    assert render_call("plan_campaign", {"budget": 2000.0}) == '{"tool": "plan_campaign", "args": {"budget": 2000}}'


def test_category_words_of_the_templates_map_back() -> None:
    check_vocabulary()


def test_the_split_is_by_template_and_every_target_is_a_valid_call() -> None:
    train, test = split(per_template=2, held_out_per_template=2, seed=3)
    assert {e.template for e in train}.isdisjoint({e.template for e in test})
    assert {e.tool for e in test} == set(TOOLS)
    for example in train + test:
        call = parse_call(example.target)
        assert call.tool == example.tool
        assert canonical_args(call.tool, call.args) == example.args
        spec = TOOLS[example.tool].args
        required = {n for n, f in spec.model_fields.items() if f.is_required()}
        if required <= set(example.args):
            validate(call)  # complete examples are runnable as written


def test_the_data_is_reproducible() -> None:
    assert split(2, 1, seed=5) == split(2, 1, seed=5)
    assert split(2, 1, seed=5) != split(2, 1, seed=6)


def test_every_tool_has_held_out_templates() -> None:
    assert {t.tool for t in TEMPLATES if held_out(t)} == set(TOOLS)


def test_benchmark_tasks_are_not_training_sentences() -> None:
    templates = {t.text.lower().split("{")[0].strip() for t in TEMPLATES if not held_out(t)}
    for task in TASKS:
        assert not any(prefix and task.text.lower().startswith(prefix) and len(prefix) > 25 for prefix in templates)
    assert len(TASKS) >= 60
    for task in TASKS:
        if task.tool:
            validate(ToolCall(task.tool, task.args))
