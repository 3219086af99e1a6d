"""The OpenAI chat-completions connector, on the official ``openai`` SDK.

Against OpenAI-compatible local servers it adds what those servers often lack
(see ``_capabilities.py`` and ``_shims.py``): a one-time capability probe, a shim
for named and required ``tool_choice``, ``response_format`` in the style the server
understands, and strict recovery of tool calls the model wrote as message text.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError
from sapient.core.llm import LLMResponse, StreamDelta, forced_tool, tool_choice_mode
from sapient.core.messages import Message, ToolCall, Usage

from ._capabilities import FULL, ServerCapabilities, probe_server
from ._recovery import recover_tool_calls
from ._shims import (
    any_call_schema,
    call_instruction,
    response_format,
    schema_instruction,
    with_instruction,
)

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
    """``tool_choice`` in the wire format: a mode string, or the forced tool's object."""
    if choice is None or not tools:
        return None
    name = forced_tool(choice)
    return tool_choice_mode(choice) if name is None else {
        "type": "function", "function": {"name": name}}


class OpenAIChat:
    """Chat completions with tool calls, streaming (with usage) and async.

    Args:
        model: the model id.
        base_url: an OpenAI-compatible server's ``/v1`` URL; ``None`` for OpenAI.
        api_key: default ``OPENAI_API_KEY``; local servers get a placeholder.
        client / async_client: injected SDK clients (tests pass fakes or servers).
        timeout, max_retries: handed to the SDK, which retries connection errors,
            429 and 5xx with backoff; what still fails becomes an :class:`LLMError`.
        capabilities: what the server enforces; default: probed on first need for
            a ``base_url`` server, assumed complete for OpenAI itself.
        probe: probe the server (default: only when ``base_url`` is set).
        recover_tool_calls: turn a reply whose whole text is a valid JSON call to a
            known tool into a tool call (default on).
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
        capabilities: ServerCapabilities | None = None,
        probe: bool | None = None,
        recover_tool_calls: bool = True,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        self._client = client
        self._async_client = async_client
        self.timeout = timeout
        self.max_retries = max_retries
        self.default_options = dict(default_options or {})
        self._capabilities = capabilities
        self.probe = probe if probe is not None else base_url is not None
        self.recover_tool_calls = recover_tool_calls
        self._probe_lock = threading.Lock()

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

    @property
    def capabilities(self) -> ServerCapabilities:
        """What the server enforces (probed once, on first need; see _capabilities)."""
        if self._capabilities is None:
            with self._probe_lock:
                if self._capabilities is None:
                    if not self.probe:
                        self._capabilities = FULL
                    else:
                        import openai

                        try:
                            self._capabilities = probe_server(self.client, self.model,
                                                              self.base_url)
                        except openai.OpenAIError as exc:
                            raise self._error(exc) from exc
        return self._capabilities

    # -- request/response mapping -------------------------------------------------------

    def build_request(self, messages: Sequence[Message], tools: Sequence[Any],
                      options: dict[str, Any], *, style: str | None = "json_schema"
                      ) -> dict[str, Any]:
        """The keyword arguments for ``chat.completions.create`` (no shims).

        ``style`` is how ``output_schema`` is sent (see ``ServerCapabilities``);
        ``None`` puts the schema into the system message instead.
        """
        opts = {**self.default_options, **options}
        schema = opts.pop("output_schema", None)
        if schema is not None and not tools and style is None:
            messages = with_instruction(messages, schema_instruction(schema))
        wire = [m.to_openai() for m in messages]
        if self.base_url is not None:
            # Compatible servers validate more strictly than OpenAI: llama-cpp-python's
            # rejects an assistant turn whose content is null (a pure tool call).
            for m in wire:
                if m.get("role") == "assistant" and m.get("content") is None:
                    m["content"] = ""
        req: dict[str, Any] = {"model": self.model, "messages": wire}
        if tools:
            req["tools"] = [t.spec() for t in tools]
        # Sent explicitly: some servers (llama-cpp-python's function-calling handler)
        # ignore the tools unless tool_choice is given, unlike OpenAI's "auto" default.
        choice = _tool_choice(opts.pop("tool_choice", None) or "auto", tools)
        if choice is not None:
            req["tool_choice"] = choice
        if schema is not None and not tools and style is not None:
            req["response_format"] = response_format(schema, style)
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

    # -- shims ------------------------------------------------------------------------

    def plan(self, messages: Sequence[Message], tools: Sequence[Any],
             options: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The request to send and how to read the reply.

        Modes: ``native`` (a normal reply, with leak recovery), ``forced:<tool>``
        (the reply text is that tool's arguments, enforced by a JSON schema) and
        ``any`` (the reply text is one ``{"name", "arguments"}`` call object).
        """
        tools = list(tools)
        opts = {**self.default_options, **options}
        choice = opts.get("tool_choice")
        name = forced_tool(choice) if tools else None
        if name is not None and name not in {t.name for t in tools}:
            raise ConfigurationError(
                f"tool_choice names '{name}', which is not among the tools given "
                f"({', '.join(t.name for t in tools)}).")
        schema = opts.get("output_schema")
        needs_probe = (tools and (name is not None or choice == "required")) or (
            schema is not None and not tools)
        caps = self.capabilities if needs_probe else FULL
        rest = {k: v for k, v in options.items() if k not in ("tool_choice", "output_schema")}
        if name is not None and not caps.named_tool_choice:
            tool = next(t for t in tools if t.name == name)
            msgs = with_instruction(messages, call_instruction(tools, name))
            if caps.response_format:
                req = self.build_request(msgs, (), rest)
                req["response_format"] = response_format(tool.parameters, caps.response_format,
                                                         "arguments")
                return req, f"forced:{name}"
            fallback = "required" if caps.required_tool_choice else "auto"
            return self.build_request(msgs, [tool], {**rest, "tool_choice": fallback}), "native"
        if tools and choice == "required" and not caps.required_tool_choice:
            msgs = with_instruction(messages, call_instruction(tools, None))
            if caps.response_format:
                req = self.build_request(msgs, (), rest)
                req["response_format"] = response_format(any_call_schema(tools),
                                                         caps.response_format, "call")
                return req, "any"
            return self.build_request(msgs, tools, {**rest, "tool_choice": "auto"}), "native"
        return self.build_request(messages, tools, options, style=caps.response_format), "native"

    def read(self, response: LLMResponse, mode: str, tools: Sequence[Any],
             options: dict[str, Any]) -> LLMResponse:
        """Turn a reply into tool calls where the plan or a leaked call says so."""
        if mode.startswith("forced:"):
            text = (response.text or "").strip()
            response.tool_calls = [ToolCall(mode.split(":", 1)[1], text or "{}",
                                            id=f"call_{uuid.uuid4().hex[:12]}")]
            response.text = None
            response.finish_reason = "tool_calls"
            return response
        choice = {**self.default_options, **options}.get("tool_choice")
        if (not response.tool_calls and tools and choice != "none"
                and (self.recover_tool_calls or mode == "any")):
            calls = recover_tool_calls(response.text, tools)
            if calls:
                response.tool_calls = calls[:1] if mode == "any" else calls
                response.text = None
                response.finish_reason = "tool_calls"
        return response

    # -- LLM protocol ------------------------------------------------------------------

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        import openai

        req, mode = self.plan(messages, tools, options)
        try:
            resp = self.client.chat.completions.create(**req)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self.read(self.parse_response(resp), mode, tools, options)

    async def acomplete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                        **options: Any) -> LLMResponse:
        import openai

        if self._capabilities is None and self.probe:
            await asyncio.to_thread(lambda: self.capabilities)  # probing blocks: not here
        req, mode = self.plan(messages, tools, options)
        try:
            resp = await self.async_client.chat.completions.create(**req)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        return self.read(self.parse_response(resp), mode, tools, options)

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        import openai

        req, mode = self.plan(messages, tools, options)
        if mode != "native":  # a shimmed call arrives whole
            try:
                raw = self.client.chat.completions.create(**req)
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
            yield self.read(self.parse_response(raw), mode, tools, options)
            return
        req["stream"] = True
        req["stream_options"] = {"include_usage": True}
        choice = {**self.default_options, **options}.get("tool_choice")
        # Text that may be a leaked tool call is held back until the end, so a
        # recovered call is never shown to the user as text.
        watch = bool(tools) and choice != "none" and self.recover_tool_calls
        held: list[str] = []
        holding: bool | None = None if watch else False
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = Usage()
        finish = None
        model = self.model
        answered = False
        try:
            for chunk in self.client.chat.completions.create(**req):
                if getattr(chunk, "usage", None) is not None:
                    usage = Usage(chunk.usage.prompt_tokens or 0,
                                  chunk.usage.completion_tokens or 0, 1)
                model = getattr(chunk, "model", None) or model
                if not chunk.choices:
                    continue
                answered = True
                choice_ = chunk.choices[0]
                finish = choice_.finish_reason or finish
                delta = choice_.delta
                if delta.content:
                    text.append(delta.content)
                    if holding is None:
                        held.append(delta.content)
                        start = "".join(held).lstrip()
                        if start:
                            holding = start[0] in "{[`<"
                            if not holding:
                                yield StreamDelta("".join(held))
                                held.clear()
                    elif holding:
                        held.append(delta.content)
                    else:
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
        if not answered and tools:
            # Some servers cannot stream tool calls and close the stream empty
            # (llama-cpp-python: "Automatic streaming tool choice is not supported").
            response = self.complete(messages, tools, **options)
            if response.text:
                yield StreamDelta(response.text)
            yield response
            return
        tool_calls = [ToolCall(c["name"], c["arguments"] or "{}", c["id"])
                      for _, c in sorted(calls.items())]
        response = self.read(LLMResponse(text="".join(text) or None, tool_calls=tool_calls,
                                         usage=usage, finish_reason=finish, model=model),
                             mode, tools, options)
        if held and response.text:
            yield StreamDelta("".join(held))
        yield response
