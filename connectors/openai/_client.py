"""The OpenAI chat-completions connector, on the official ``openai`` SDK."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError
from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.messages import Message, ToolCall, Usage

__all__ = ["OpenAIChat", "parse_spec"]


def parse_spec(rest: str) -> tuple[str | None, str]:
    """Split ``gpt-4o-mini`` or ``http://host:port/v1#model`` into (base_url, model)."""
    if rest.startswith(("http://", "https://")):
        base_url, _, model = rest.partition("#")
        if not model:
            raise ConfigurationError(
                f"No model id in {rest!r}: write the server URL, then '#' and the model, "
                "e.g. 'openai:http://127.0.0.1:11434/v1#llama3.1'."
            )
        return base_url, model
    if not rest:
        raise ConfigurationError("No model given: write e.g. 'openai:gpt-4o-mini'.")
    return None, rest


def _tool_choice(choice: Any, tools: Sequence[Any]) -> Any:
    if choice is None or not tools:
        return None
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, str):
        return {"type": "function", "function": {"name": choice}}
    return choice


class OpenAIChat:
    """Chat completions with tool calls, streaming (with usage) and async.

    Args:
        model: the model id.
        base_url: an OpenAI-compatible server's ``/v1`` URL; ``None`` for OpenAI.
        api_key: default ``OPENAI_API_KEY``; local servers get a placeholder.
        client / async_client: injected SDK clients (tests pass fakes or servers).
        timeout, max_retries: handed to the SDK, which retries connection errors,
            429 and 5xx with backoff; what still fails becomes an :class:`LLMError`.
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        async_client: Any = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        default_options: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        self._client = client
        self._async_client = async_client
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_options = dict(default_options or {})

    # -- clients -------------------------------------------------------------------

    def _key(self) -> str:
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            return key
        if self.base_url is not None:
            return "sk-no-key-required"
        raise ConfigurationError(
            "OPENAI_API_KEY is not set. Export it, pass api_key=..., or point Sapient at a "
            "local OpenAI-compatible server: --llm 'openai:http://127.0.0.1:11434/v1#MODEL'."
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(api_key=self._key(), base_url=self.base_url,
                                         timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    @property
    def async_client(self) -> Any:
        if self._async_client is None:
            import openai

            self._async_client = openai.AsyncOpenAI(
                api_key=self._key(), base_url=self.base_url, timeout=self.timeout,
                max_retries=self.max_retries)
        return self._async_client

    # -- request/response mapping -------------------------------------------------------

    def build_request(self, messages: Sequence[Message], tools: Sequence[Any],
                      options: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments for ``chat.completions.create``."""
        opts = {**self.default_options, **options}
        req: dict[str, Any] = {"model": self.model,
                               "messages": [m.to_openai() for m in messages]}
        if tools:
            req["tools"] = [t.spec() for t in tools]
        choice = _tool_choice(opts.pop("tool_choice", None), tools)
        if choice is not None:
            req["tool_choice"] = choice
        schema = opts.pop("output_schema", None)
        if schema is not None and not tools:
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            }
        for key in ("temperature", "max_tokens", "top_p", "stop", "seed"):
            if key in opts:
                req[key] = opts.pop(key)
        if opts:
            req["extra_body"] = opts
        return req

    @staticmethod
    def parse_response(resp: Any) -> LLMResponse:
        choice = resp.choices[0]
        msg = choice.message
        calls = [
            ToolCall(name=c.function.name, arguments=c.function.arguments or "{}", id=c.id or "")
            for c in (msg.tool_calls or [])
        ]
        usage = Usage()
        if getattr(resp, "usage", None) is not None:
            usage = Usage(resp.usage.prompt_tokens or 0, resp.usage.completion_tokens or 0, 1)
        return LLMResponse(text=msg.content, tool_calls=calls, usage=usage,
                           finish_reason=choice.finish_reason, model=resp.model, raw=resp)

    def _error(self, exc: Exception) -> LLMError:
        import openai

        where = self.base_url or "api.openai.com"
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(f"The server at {where} refused the API key (401). Check "
                            "OPENAI_API_KEY.", provider="openai", model=self.model, status_code=401)
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"Rate limited by {where} after {self.max_retries} retries (429). "
                            "Wait and try again, or lower the request rate.", provider="openai",
                            model=self.model, status_code=429, retryable=True)
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"No answer from {where} within {self.timeout:g} s "
                            f"(after {self.max_retries} retries). Raise timeout= or check the "
                            "server.", provider="openai", model=self.model, retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"Cannot connect to {where}: {exc}. Is the server running and the "
                            "URL right?", provider="openai", model=self.model, retryable=True)
        if isinstance(exc, openai.NotFoundError):
            return LLMError(f"{where} does not know model '{self.model}' (404). List the "
                            "server's models and pass one of them.", provider="openai",
                            model=self.model, status_code=404)
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{where} answered {exc.status_code}: {exc.message}",
                            provider="openai", model=self.model, status_code=exc.status_code,
                            retryable=exc.status_code >= 500)
        return LLMError(f"OpenAI request failed: {type(exc).__name__}: {exc}",
                        provider="openai", model=self.model)

    # -- LLM protocol ------------------------------------------------------------------

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        import openai

        try:
            resp = self.client.chat.completions.create(
                **self.build_request(messages, tools, options))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self.parse_response(resp)

    async def acomplete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                        **options: Any) -> LLMResponse:
        import openai

        try:
            resp = await self.async_client.chat.completions.create(
                **self.build_request(messages, tools, options))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self.parse_response(resp)

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        import openai

        req = self.build_request(messages, tools, options)
        req["stream"] = True
        req["stream_options"] = {"include_usage": True}
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = Usage()
        finish = None
        model = self.model
        try:
            for chunk in self.client.chat.completions.create(**req):
                if getattr(chunk, "usage", None) is not None:
                    usage = Usage(chunk.usage.prompt_tokens or 0,
                                  chunk.usage.completion_tokens or 0, 1)
                model = getattr(chunk, "model", None) or model
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    yield StreamDelta(delta.content)
                for tc in delta.tool_calls or []:
                    slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    if tc.id:
                        slot["id"] = tc.id
                    if tc.function is not None:
                        slot["name"] += tc.function.name or ""
                        slot["arguments"] += tc.function.arguments or ""
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        tool_calls = [ToolCall(c["name"], c["arguments"] or "{}", c["id"])
                      for _, c in sorted(calls.items())]
        yield LLMResponse(text="".join(text) or None, tool_calls=tool_calls, usage=usage,
                          finish_reason=finish, model=model)
