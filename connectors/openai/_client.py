"""The OpenAI chat-completions connector, on the official ``openai`` SDK.

Against OpenAI-compatible local servers it adds what those servers often lack
(see ``_capabilities.py`` and ``_shims.py``): a one-time capability probe, a shim
for named and required ``tool_choice``, ``response_format`` in the style the server
understands, and strict recovery of tool calls the model wrote as message text.
Every request is retried under one policy (``_retry.py``: errors, malformed bodies
and broken streams alike), keys go only to the server they were configured for
(``_auth.py``), and failures arrive as one redacted :class:`LLMError`
(``_errors.py``). Streaming lives in ``_stream.py``.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError
from sapient.core.llm import LLMResponse, StreamDelta, forced_tool, tool_choice_mode
from sapient.core.messages import Message, ToolCall, Usage
from sapient.core.redact import redact

from ._auth import Credentials, credentials, is_openai_host, server_name
from ._capabilities import FULL, ServerCapabilities, probe_server
from ._errors import as_llm_error, gave_up
from ._recovery import recover_tool_calls
from ._retry import MalformedResponse, RetryPolicy, arun_with_retries, run_with_retries
from ._shims import (
    any_call_schema,
    call_instruction,
    response_format,
    schema_instruction,
    with_instruction,
)

__all__ = ["OpenAIChat", "parse_spec", "split_options"]


def split_options(rest: str) -> tuple[str, str]:
    """``(spec without options, query)``: options follow a ``?`` after the model id.

    For a server URL the options come after ``#model`` (``http://h/v1#m?fallback=...``),
    so a URL's own query string stays part of the URL.
    """
    if rest.startswith(("http://", "https://")):
        head, sep, tail = rest.partition("#")
        model, _, query = tail.partition("?")
        return head + sep + model, query
    model, _, query = rest.partition("?")
    return model, query


def parse_spec(rest: str) -> tuple[str | None, str]:
    """Split ``gpt-4o-mini`` or ``http://host:port/v1#model`` into (base_url, model).

    Options after ``?`` (see :func:`split_options`) are ignored here.
    """
    rest = split_options(rest)[0]
    if rest.startswith(("http://", "https://")):
        base_url, _, model = rest.partition("#")
        if not model:
            raise ConfigurationError(
                f"No model id in {redact(rest)!r}: write the server URL, then '#' and the "
                "model, e.g. 'openai:http://127.0.0.1:11434/v1#llama3.1'."
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
        api_key: the key for this server. Default: ``OPENAI_API_KEY`` for OpenAI's
            own API only; for any other server the variable named by
            ``api_key_env``, else ``SAPIENT_LLM_API_KEY``, else no key at all.
        api_key_env: the environment variable holding this server's key.
        client / async_client: injected SDK clients (tests pass fakes or servers).
        timeout: seconds one request may wait for the server's next bytes.
        max_retries: retries after the first try (shorthand for ``retry``).
        retry: the full :class:`RetryPolicy` (attempts, time budget, backoff);
            default 4 attempts within 60 s. The SDK's own retries are off.
        capabilities: what the server enforces; default: probed on first need for
            a ``base_url`` server, assumed complete for OpenAI itself.
        probe: probe the server (default: for any server but OpenAI's own API).
        recover_tool_calls: turn a reply whose whole text is a valid JSON call to a
            known tool into a tool call (default on).
        writes_answers: whether the model writes answers from tool results itself
            (default True; plugins that compose answers from evidence read it).
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        client: Any = None,
        async_client: Any = None,
        timeout: float = 120.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        default_options: dict[str, Any] | None = None,
        capabilities: ServerCapabilities | None = None,
        probe: bool | None = None,
        recover_tool_calls: bool = True,
        writes_answers: bool = True,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        self.api_key_env = api_key_env
        self._client = client
        self._async_client = async_client
        self.timeout = timeout
        if retry is None:
            retry = RetryPolicy() if max_retries is None else RetryPolicy(attempts=max_retries + 1)
        self.retry = retry
        self.default_options = dict(default_options or {})
        self._capabilities = capabilities
        self.probe = probe if probe is not None else not is_openai_host(base_url)
        self.recover_tool_calls = recover_tool_calls
        self.writes_answers = writes_answers
        self._probe_lock = threading.Lock()
        self._credentials: Credentials | None = None

    def __repr__(self) -> str:
        return f"OpenAIChat({self.model!r}, server={self.where!r})"

    @property
    def max_retries(self) -> int:
        return self.retry.attempts - 1

    @property
    def where(self) -> str:
        """The server, as named in messages (credentials masked)."""
        return server_name(self.base_url)

    # -- clients -------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        """The key this connector sends, and where it came from (see ``_auth.py``)."""
        if self._credentials is None:
            self._credentials = credentials(self.base_url, self._api_key, self.api_key_env)
        return self._credentials

    def _secrets(self) -> tuple[str, ...]:
        key = self._credentials.key if self._credentials is not None else self._api_key
        return (key,) if key else ()

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(base_url=self.base_url, timeout=self.timeout,
                                         max_retries=0, **self.credentials.client_options())
        return self._client

    @property
    def async_client(self) -> Any:
        if self._async_client is None:
            import openai

            self._async_client = openai.AsyncOpenAI(
                base_url=self.base_url, timeout=self.timeout, max_retries=0,
                **self.credentials.client_options(asynchronous=True))
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
                        self._capabilities = run_with_retries(
                            lambda timeout: self._guarded(
                                lambda: probe_server(self.client, self.model, self.base_url)),
                            self.retry, self._gave_up, self.timeout)
        return self._capabilities

    def _guarded(self, fn: Any) -> Any:
        """``fn()`` with every failure turned into an :class:`LLMError`."""
        try:
            return fn()
        except (ConfigurationError, LLMError):
            raise
        except Exception as exc:  # any SDK, HTTP or decoding failure: one error type
            raise self._error(exc) from exc

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
    def parse_response(resp: Any, where: str = "the server") -> LLMResponse:
        """An SDK completion as an :class:`LLMResponse`.

        Raises:
            MalformedResponse: the body is not a chat completion (no choices, no
                message, a tool call without a function).
        """
        choices = getattr(resp, "choices", None)
        if not choices:
            raise MalformedResponse(
                f"{where} answered without any choice in its reply, so there is no answer "
                "to read.", provider="openai", retryable=True)
        choice = choices[0]
        msg = getattr(choice, "message", None)
        if msg is None:
            raise MalformedResponse(f"{where} sent a choice without a message.",
                                    provider="openai", retryable=True)
        calls = []
        for c in msg.tool_calls or []:
            function = getattr(c, "function", None)
            if function is None or not getattr(function, "name", None):
                raise MalformedResponse(f"{where} sent a tool call without a function name.",
                                        provider="openai", retryable=True)
            calls.append(ToolCall(name=function.name, arguments=function.arguments or "{}",
                                  id=c.id or ""))
        usage = Usage()
        if getattr(resp, "usage", None) is not None:
            usage = Usage(resp.usage.prompt_tokens or 0, resp.usage.completion_tokens or 0, 1)
        return LLMResponse(text=msg.content, tool_calls=calls, usage=usage,
                           finish_reason=choice.finish_reason, model=resp.model, raw=resp)

    def _error(self, exc: BaseException) -> LLMError:
        return as_llm_error(exc, where=self.where, model=self.model, timeout=self.timeout,
                            secrets=self._secrets())

    def _gave_up(self, tries: Any) -> LLMError:
        return gave_up(tries, where=self.where, model=self.model)

    def _request(self, req: dict[str, Any], timeout: float) -> LLMResponse:
        """One try: send ``req`` and parse the reply (any failure as an LLMError)."""
        def send() -> LLMResponse:
            raw = self.client.chat.completions.create(**req)
            return self.parse_response(raw, self.where)

        return self._guarded(send)  # type: ignore[no-any-return]

    def create(self, req: dict[str, Any]) -> LLMResponse:
        """Send ``req`` under the retry policy; the parsed reply or one clear error."""
        return run_with_retries(lambda t: self._request(req, t), self.retry, self._gave_up,
                                self.timeout)

    async def acreate(self, req: dict[str, Any]) -> LLMResponse:
        """The async twin of :meth:`create`."""
        async def once(timeout: float) -> LLMResponse:
            try:
                raw = await self.async_client.chat.completions.create(**req)
                return self.parse_response(raw, self.where)
            except (ConfigurationError, LLMError):
                raise
            except Exception as exc:  # one error type, as in _guarded
                raise self._error(exc) from exc

        return await arun_with_retries(once, self.retry, self._gave_up, self.timeout)

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
        req, mode = self.plan(messages, tools, options)
        return self.read(self.create(req), mode, tools, options)

    async def acomplete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                        **options: Any) -> LLMResponse:
        if self._capabilities is None and self.probe:
            await asyncio.to_thread(lambda: self.capabilities)  # probing blocks: not here
        req, mode = self.plan(messages, tools, options)
        return self.read(await self.acreate(req), mode, tools, options)

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        from ._stream import stream_chat

        yield from stream_chat(self, messages, tools, options)

