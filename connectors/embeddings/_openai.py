"""Embeddings from OpenAI or any OpenAI-compatible ``/v1/embeddings`` endpoint.

Keys follow the chat connector's rules (``sapient.connectors.openai._auth``): the
user's ``OPENAI_API_KEY`` goes to OpenAI only. ``name`` is the spec that reopens
this very endpoint (``openai:http://127.0.0.1:8080/v1#nomic-embed-text`` for a local
server), so an index built with a local embedder never reopens against the public
API with the user's key.
"""

from __future__ import annotations

from typing import Any

from sapient.core.errors import LLMError

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    """Batched, L2-normalised embeddings through the official openai SDK.

    Requests are retried like chat requests (429, 5xx, timeouts, malformed bodies),
    and failures arrive as one redacted :class:`LLMError`.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 api_key_env: str | None = None, client: Any = None, batch_size: int = 256,
                 timeout: float = 120.0, retry: Any = None) -> None:
        self.model_name = model
        self.base_url = base_url
        self._api_key = api_key
        self.api_key_env = api_key_env
        self._client = client
        self.batch_size = batch_size
        self.timeout = timeout
        self._retry = retry
        self._dimension: int | None = None
        self._key: str | None = None

    @property
    def name(self) -> str:
        """The spec that reopens this embedder (server and key variable included)."""
        spec = f"openai:{self.base_url}#{self.model_name}" if self.base_url else \
            f"openai:{self.model_name}"
        return f"{spec}?api_key_env={self.api_key_env}" if self.api_key_env else spec

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai
            from sapient.connectors.openai._auth import credentials

            creds = credentials(self.base_url, self._api_key, self.api_key_env)
            self._key = creds.key
            self._client = openai.OpenAI(base_url=self.base_url, timeout=self.timeout,
                                         max_retries=0, **creds.client_options())
        return self._client

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def _batch(self, texts: list[str]) -> list[list[float]]:
        """One request, retried under the policy; any failure as an LLMError."""
        from sapient.connectors.openai._auth import server_name
        from sapient.connectors.openai._errors import as_llm_error, gave_up
        from sapient.connectors.openai._retry import RetryPolicy, run_with_retries

        where = server_name(self.base_url)

        def once(_timeout: float) -> list[list[float]]:
            try:
                resp = self.client.embeddings.create(model=self.model_name, input=texts)
                data = sorted(resp.data, key=lambda d: d.index)
                if len(data) != len(texts):
                    raise ValueError(f"{len(data)} vectors for {len(texts)} texts")
                return [list(d.embedding) for d in data]
            except LLMError:
                raise
            except Exception as exc:  # SDK, HTTP or decoding failure: one error type
                raise as_llm_error(exc, where=where, model=self.model_name,
                                   timeout=self.timeout,
                                   secrets=(self._key,) if self._key else ()) from exc

        return run_with_retries(
            once, self._retry or RetryPolicy(),
            lambda tries: gave_up(tries, where=where, model=self.model_name,
                                  fallback_hint=False), self.timeout)

    def embed(self, texts: list[str], *, show_progress: bool = False) -> Any:
        import numpy as np

        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            rows.extend(self._batch(list(texts[i:i + self.batch_size])))
        arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self._dimension = arr.shape[1] if len(rows) else self._dimension
        return arr / norms
