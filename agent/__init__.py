"""The tool-using agent behind `/v1/ask`, `/v1/chat` and `offerpilot ask`.

Read in this order:
- `schemas`: one pydantic model per tool (what it accepts; nothing that overrides the policy);
- `tools`: the tools over the services (`Toolkit.execute` is the one door), with `pricing` (the policy
  for a named customer × coupon) and `segments` (RFM and category filters over all profiles);
- `calls`: parsing and validating a model's tool call;
- `backends`: `OFFERPILOT_LLM` → the embedded model (`llm_local`, with the LoRA adapter) or a LangChain
  chat model (OpenAI-compatible server, Ollama); `prompting` holds the prompt files' use;
- `core`: the agent (select → validate → run → compose; feedback once, then a clarifying question);
- `redact` and `faithfulness`: personal data out of prompts, unsupported numbers out of answers.

The agent is a shell like the API: it imports services (and, for reads the services do not offer yet,
policies, retrieval and store), never the API or the CLI.
"""
