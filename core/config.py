"""Settings read from `OFFERPILOT_*` environment variables (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DATA_DIR = REPO_ROOT / "data" / "demo"
PROMPTS_DIR = REPO_ROOT / "prompts"


def parse_api_keys(raw: str) -> dict[str, frozenset[str]]:
    """Parse `key:scope1+scope2,key2:admin` into {key: scopes}; a malformed pair is an error, not a guess."""
    keys: dict[str, frozenset[str]] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, scopes = pair.partition(":")
        if not sep or not key or not scopes:
            raise ValueError(f"OFFERPILOT_API_KEYS entry {pair!r} is not of the form key:scope1+scope2")
        keys[key] = frozenset(s for s in scopes.split("+") if s)
    return keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERPILOT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".local" / "share" / "offerpilot")
    database_url: str | None = None
    api_keys: SecretStr = SecretStr("")
    llm: str = "local"
    log_level: str = "INFO"
    log_json: bool = False
    offer_ttl_days: int = 14
    candidate_pool: int = 20
    # Customer-history vectors kept in memory (384 floats each); a customer's next event invalidates theirs.
    embedding_cache_entries: int = Field(default=50_000, ge=0)
    # Discount depth policy: the trained season agent (policies/artifacts) or the transparent baseline rule.
    policy: Literal["rl", "baseline"] = "rl"
    # Share of offers whose depth is explored at random (logged with its propensity for off-policy evaluation).
    exploration_epsilon: float = Field(default=0.1, ge=0.0, le=1.0)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'offerpilot.db'}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def parsed_api_keys(self) -> dict[str, frozenset[str]]:
        return parse_api_keys(self.api_keys.get_secret_value())


@lru_cache
def get_settings() -> Settings:
    return Settings()
