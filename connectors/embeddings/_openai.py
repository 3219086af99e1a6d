"""Embeddings from OpenAI or any OpenAI-compatible ``/v1/embeddings`` endpoint."""

from __future__ import annotations

import os
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    """Batched, L2-normalised embeddings through the official openai SDK."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 client: Any = None, batch_size: int = 256) -> None:
        self.model_name = model
        self.base_url = base_url
        self._api_key = api_key
        self._client = client
        self.batch_size = batch_size
        self._dimension: int | None = None

    @property
    def name(self) -> str:
        return f"openai:{self.model_name}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            key = self._api_key or os.environ.get("OPENAI_API_KEY")
            if not key and self.base_url is None:
                raise ConfigurationError("OPENAI_API_KEY is not set; export it or pass api_key=.")
            self._client = openai.OpenAI(api_key=key or "sk-no-key-required",
                                         base_url=self.base_url)
        return self._client

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: list[str], *, show_progress: bool = False) -> Any:
        import numpy as np
        import openai

        rows: list[list[float]] = []
        try:
            for i in range(0, len(texts), self.batch_size):
                resp = self.client.embeddings.create(model=self.model_name,
                                                     input=list(texts[i:i + self.batch_size]))
                rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        except openai.OpenAIError as exc:
            raise LLMError(f"Embedding request failed: {exc}", provider="openai",
                           model=self.model_name) from exc
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self._dimension = arr.shape[1] if len(rows) else self._dimension
        return arr / norms
