"""The in-process llama.cpp model with grammar-constrained tool calls.

How a turn with tools is decoded (see docs/local_llms.md):

1. The prompt lists the tools (name, description, JSON schema) and the reply format
   ``{"name": ..., "arguments": {...}}``.
2. Choice: with ``tool_choice="auto"`` the reply is started as ``{"name": "`` and the
   model continues under a grammar that admits the registered tool names plus
   ``answer``. Which of several tools to call is then settled by likelihood (see
   ``_choice.py``): each tool is scored by how probable the model finds the user's
   request after that tool's description, and the best one is taken (with
   ``tool_choice="required"`` only this ranking runs). ``choose_tool="grammar"``
   keeps the name the model wrote. A forced tool (``tool_choice="<name>"``) skips
   this step.
3. Arguments: the reply ``{"name": "<tool>", "arguments": `` is written into the
   prompt and the model writes the arguments under a grammar generated from that
   tool's JSON schema, so every call parses and validates against the schema.
4. ``answer`` (or no tools): the model writes its reply freely, or under the
   grammar of ``output_schema`` (structured output) or of an explicit ``grammar``.

Both steps share the KV cache, so the second one only evaluates the few new tokens.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError, LLMError, ToolArgumentError
from sapient.core.llm import LLMResponse, StreamDelta
from sapient.core.llm import forced_tool as _forced_name
from sapient.core.messages import Message, ToolCall, Usage

from ._choice import channel_scores, last_request
from ._grammar import call_arguments_grammar, choice_grammar, json_complete, schema_grammar
from ._log import last_llama_errors, quiet_llama_log
from ._model import is_bundled_model
from ._prompt import ANSWER, PromptFormat, normalise, render_tools

__all__ = ["LlamaCppLLM", "argument_problems", "load_llama"]

#: Extra tokens allowed to close JSON that ``max_tokens`` cut short (see Engine.generate).
_WRAP_UP = 64
_LOADED: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def default_threads() -> int:
    """Half the logical CPUs (llama.cpp's own default): physical cores on most machines."""
    return max(1, (os.cpu_count() or 2) // 2)


def _close_all() -> None:
    """Free loaded models before interpreter teardown (their finalizers fail late)."""
    with _LOAD_LOCK:
        for llama, _ in _LOADED.values():
            with contextlib.suppress(Exception):  # best effort at exit
                llama.close()
        _LOADED.clear()


def load_llama(path: Path, *, n_ctx: int, n_threads: int, n_batch: int,
               verbose: bool = False) -> tuple[Any, Any]:
    """Load (once per process and settings) a model and its decoding engine."""
    key = (str(path), n_ctx, n_threads, n_batch)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            import llama_cpp
        except ImportError as exc:
            raise ConfigurationError(
                "The llamacpp connector needs llama-cpp-python: pip install 'sapient[local]'."
            ) from exc
        from ._engine import Engine

        quiet_llama_log(verbose)

        try:
            llama = llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=n_threads,
                                    n_threads_batch=n_threads, n_batch=n_batch,
                                    verbose=verbose)
        except (ValueError, RuntimeError) as exc:
            said = "; ".join(last_llama_errors()[-3:])
            raise ConfigurationError(
                f"llama.cpp could not load '{path}': {exc}{f' ({said})' if said else ''}. "
                "Check that it is a complete GGUF "
                "file for an architecture this llama-cpp-python version supports, and that "
                "n_ctx fits in memory."
            ) from exc
        if not _LOADED:
            atexit.register(_close_all)
        _LOADED[key] = (llama, Engine(llama))
        return _LOADED[key]


class LlamaCppLLM:
    """A local GGUF model run in-process by llama.cpp (``llama-cpp-python``).

    Args:
        model_path: the ``.gguf`` file.
        n_ctx: context size in tokens.
        n_threads: CPU threads (default: half the logical CPUs).
        n_batch: prompt tokens evaluated per batch.
        chat_format: ``None`` uses the GGUF's chat template (or the architecture's
            turn format when the file has none); or ``template``, ``gemma``,
            ``chatml``, ``llama-3``.
        temperature, max_tokens, seed, top_k, top_p: sampling defaults (greedy by
            default, so runs repeat).
        choose_tool: how one of several tools is chosen: ``"likelihood"`` (default;
            the tool under which the user's request is most probable) or
            ``"grammar"`` (the name the model writes under a grammar).
        verbose: let llama.cpp log to stderr (otherwise its log is silenced).
        writes_answers: whether the model can write an answer from tool results
            itself. ``None`` (default): ``False`` for the bundled Gemma 3 270M base
            model, ``True`` for any other file. Plugins that compose answers from
            evidence read it (``getattr(llm, "writes_answers", True)``).

    The model is loaded on first use and shared by every instance with the same
    file and settings. Calls from several threads are serialised. Each response's
    ``raw["timings"]`` holds ``prompt_s``, ``decode_s`` and ``evaluated_tokens``
    (prompt tokens not served from the KV cache), plus ``choice_s`` when a tool was
    chosen by likelihood; ``raw["choice_scores"]`` then holds each tool's score.
    A tool call whose decoded arguments do not validate against the tool's schema
    (see :func:`argument_problems`) carries the reasons in ``raw["argument_problems"]``;
    the agent loop validates every call too and sends such problems back to the model.
    ``load_seconds`` says how long loading the model took.
    """

    provider = "llamacpp"

    def __init__(self, model_path: str | Path, *, n_ctx: int = 4096,
                 n_threads: int | None = None, n_batch: int = 512,
                 chat_format: str | None = None, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None, top_k: int = 40,
                 top_p: float = 0.95, choose_tool: str = "likelihood",
                 verbose: bool = False, writes_answers: bool | None = None) -> None:
        if n_ctx < 64:
            raise ConfigurationError(f"n_ctx={n_ctx} is too small; use at least 512.")
        if choose_tool not in ("likelihood", "grammar"):
            raise ConfigurationError(f"choose_tool={choose_tool!r}: use 'likelihood' or "
                                     "'grammar'.")
        self.choose_tool = choose_tool
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_batch = n_batch
        self.chat_format = chat_format
        self.verbose = verbose
        self.defaults: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens,
                                         "seed": seed, "top_k": top_k, "top_p": top_p}
        self.model = self.model_path.name
        self.writes_answers = (not is_bundled_model(self.model_path) if writes_answers is None
                               else bool(writes_answers))
        #: Seconds the last ``load()`` took (0.0 when the model was already loaded in
        #: this process), or None before the first load.
        self.load_seconds: float | None = None
        self._llama: Any = None
        self._engine: Any = None
        self._format: PromptFormat | None = None

    def __repr__(self) -> str:
        return (f"LlamaCppLLM({str(self.model_path)!r}, n_ctx={self.n_ctx}, "
                f"n_threads={self.n_threads})")

    # -- loading ----------------------------------------------------------------------

    def load(self) -> LlamaCppLLM:
        """Load the model now (otherwise it loads on the first call)."""
        if self._engine is None:
            started = time.perf_counter()
            self._llama, self._engine = load_llama(
                self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_batch=self.n_batch, verbose=self.verbose)
            self._format = PromptFormat.for_model(self._llama, self.chat_format)
            self.load_seconds = time.perf_counter() - started
        return self

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (loaded on access)."""
        return self.load()._llama

    @property
    def prompt_format(self) -> PromptFormat:
        self.load()
        assert self._format is not None
        return self._format

    def render(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               tool_choice: Any = "auto") -> str:
        """The prompt text the model sees for these messages and tools."""
        allow_answer = tool_choice in (None, "auto")
        extra = render_tools(tools, allow_answer=allow_answer) if tools and \
            tool_choice != "none" else None
        return self.prompt_format.render(normalise(messages, extra))

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary (conversation memory budgets)."""
        return len(self.load()._engine.tokenize(text, add_bos=False)) if text else 0

    def _tokens(self, text: str) -> list[int]:
        bos = self.prompt_format.bos
        return self._engine.tokenize(text, add_bos=not (bos and text.startswith(bos)))

    def _stop_tokens(self) -> list[int]:
        """Turn markers that are single special tokens: they end a reply."""
        out = []
        for marker in self.prompt_format.stop:
            ids = self._engine.tokenize(marker, add_bos=False)
            if len(ids) == 1:
                out.append(ids[0])
        return out

    # -- the protocol -----------------------------------------------------------------

    def complete(self, messages: Sequence[Message], tools: Sequence[Any] = (),
                 **options: Any) -> LLMResponse:
        final: LLMResponse | None = None
        for item in self._turn(messages, tools, options):
            if isinstance(item, LLMResponse):
                final = item
        assert final is not None
        return final

    def stream(self, messages: Sequence[Message], tools: Sequence[Any] = (),
               **options: Any) -> Iterator[StreamDelta | LLMResponse]:
        yield from self._turn(messages, tools, options)

    # -- decoding ---------------------------------------------------------------------

    def _sampling(self, opts: dict[str, Any]) -> dict[str, Any]:
        return {"temperature": float(opts.get("temperature") or 0.0),
                "top_k": int(opts.get("top_k") or 40),
                "top_p": float(opts.get("top_p") or 0.95),
                "seed": opts.get("seed")}

    def _turn(self, messages: Sequence[Message], tools: Sequence[Any],
              options: dict[str, Any]) -> Iterator[StreamDelta | LLMResponse]:
        opts = {**self.defaults, **{k: v for k, v in options.items() if v is not None}}
        tool_choice = opts.pop("tool_choice", "auto") or "auto"
        output_schema = opts.pop("output_schema", None)
        grammar = opts.pop("grammar", None)
        max_tokens = int(opts.get("max_tokens") or 512)
        stop = opts.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        sampling = self._sampling(opts)
        tools = list(tools)
        forced = _forced_name(tool_choice, tools)
        if tool_choice == "none":
            tools = []
        self.load()
        tally = _Tally()
        answer = ANSWER if ANSWER not in {t.name for t in tools} else "reply_directly"
        chosen, prompt = self._choose(messages, tools, tool_choice, forced, answer, sampling,
                                      tally)
        if chosen is not None and chosen != answer:
            tool = next(t for t in tools if t.name == chosen)
            yield self._call(messages, tool, prompt, max_tokens, sampling, tally)
            return

        if prompt is None:  # not yet rendered by an "answer or call" decision
            prompt = self.render(messages, tools, tool_choice)
        if grammar is None and output_schema is not None:
            grammar = schema_grammar(output_schema)
        gen = self._engine.generate(
            self._tokens(prompt), grammar=grammar, max_tokens=max_tokens,
            stop=[*self.prompt_format.stop, *stop], stop_tokens=self._stop_tokens(),
            is_complete=json_complete if output_schema is not None and grammar else None,
            wrap_up=_WRAP_UP if output_schema is not None else 0, **sampling)
        for delta in gen:
            yield StreamDelta(delta)
        tally.note(gen)
        text = gen.text.strip() if output_schema is not None else gen.text
        yield LLMResponse(text=text, tool_calls=[], usage=tally.usage,
                          finish_reason=gen.finish_reason, model=self.model, raw=tally.raw)

    def _choose(self, messages: Sequence[Message], tools: list[Any], tool_choice: Any,
                forced: str | None, answer: str, sampling: dict[str, Any], tally: _Tally
                ) -> tuple[str | None, str | None]:
        """Which tool to call (or ``answer``), and the prompt rendered on the way, if any.

        The prompt listing every tool is only needed when the model itself decides
        (answer or call, or the name under a grammar); a ranked or forced choice
        writes its arguments after a prompt that shows the chosen tool alone.
        """
        prompt: str | None = None
        chosen: str | None = forced
        names = [t.name for t in tools]
        request = last_request(messages)
        rank = self.choose_tool == "likelihood" and len(names) > 1 and request is not None
        if chosen is not None or not tools:
            return chosen, prompt
        candidates = names + ([answer] if tool_choice == "auto" else [])
        if len(candidates) == 1:
            chosen = candidates[0]
        elif tool_choice == "auto" or not rank:
            prompt = self.render(messages, tools, tool_choice)
            pick = self._engine.generate(
                self._tokens(prompt + '{"name": "'), grammar=choice_grammar(candidates),
                max_tokens=64, is_complete=lambda s: s.endswith('"'), **sampling).run()
            tally.note(pick)
            chosen = pick.text[:-1] if pick.text.endswith('"') else pick.text
            if chosen not in candidates:
                raise LLMError(f"Tool choice decoding ended early ({pick.text!r}); raise "
                               "max_tokens.", provider="llamacpp", model=self.model)
        if rank and chosen != answer:
            assert request is not None
            started = time.perf_counter()
            scores = channel_scores(self._engine, request, tools)
            chosen = max(scores, key=scores.__getitem__)
            tally.timings["choice_s"] = time.perf_counter() - started
            tally.raw["choice_scores"] = scores
        return chosen, prompt

    def _call(self, messages: Sequence[Message], tool: Any, prompt: str | None,
              max_tokens: int, sampling: dict[str, Any], tally: _Tally) -> LLMResponse:
        """The arguments of a call to ``tool``, written under its schema's grammar.

        A tool that takes no arguments gets ``{}`` without running the model: there is
        nothing to write, and feeding the prompt alone costs seconds on a small CPU.
        """
        params = tool.parameters or {}
        if not params.get("properties") and not params.get("required"):
            return LLMResponse(text=None, tool_calls=[ToolCall(
                name=tool.name, arguments="{}", id=f"call_{uuid.uuid4().hex[:12]}")],
                usage=tally.usage, finish_reason="tool_calls", model=self.model,
                raw=tally.raw)
        if prompt is None:
            prompt = self.render(messages, [tool], "required")
        prefix = prompt + f'{{"name": {json.dumps(tool.name)}, "arguments": '
        gen = self._engine.generate(self._tokens(prefix),
                                    grammar=call_arguments_grammar(tool.parameters),
                                    max_tokens=max_tokens, is_complete=_call_complete,
                                    wrap_up=_WRAP_UP, **sampling).run()
        tally.note(gen)
        arguments = gen.text.strip()
        if arguments.endswith("}"):  # the call object's own closing brace
            arguments = arguments[:-1].rstrip()
        call = ToolCall(name=tool.name, arguments=arguments or "{}",
                        id=f"call_{uuid.uuid4().hex[:12]}")
        reason = "tool_calls" if gen.finish_reason == "stop" else "length"
        problems = argument_problems(tool, call.arguments, reason, max_tokens)
        if problems:  # never passed on as valid: the agent feeds this back
            tally.raw["argument_problems"] = problems
        return LLMResponse(text=None, tool_calls=[call], usage=tally.usage,
                           finish_reason=reason, model=self.model, raw=tally.raw)


class _Tally:
    """Usage and timings summed over the decoding phases of one turn."""

    def __init__(self) -> None:
        self.usage = Usage(prompt_tokens=0, completion_tokens=0, requests=1)
        self.timings: dict[str, Any] = {"prompt_s": 0.0, "decode_s": 0.0,
                                        "evaluated_tokens": 0}
        self.raw: dict[str, Any] = {"timings": self.timings}

    def note(self, gen: Any) -> None:
        self.usage.prompt_tokens = max(self.usage.prompt_tokens, gen.prompt_tokens)
        self.usage.completion_tokens += gen.completion_tokens
        self.timings["prompt_s"] += gen.prompt_s
        self.timings["decode_s"] += gen.decode_s
        self.timings["evaluated_tokens"] += gen.evaluated_tokens


def argument_problems(tool: Any, arguments: str, finish_reason: str | None,
                      max_tokens: int) -> list[str]:
    """Why decoded arguments are not a valid call to ``tool`` (empty when they are).

    The grammar enforces what a grammar can express of the tool's schema; what it
    cannot (``uniqueItems``, ``not``, lookaheads in a pattern...; see
    ``_schema.NOT_ENFORCED``) and a call that ``max_tokens`` cut short are caught by
    validating the decoded call against the schema itself.
    """
    validate = getattr(tool, "validate", None)
    try:
        if validate is not None:
            validate(arguments)
        else:
            import jsonschema

            errors = list(jsonschema.Draft202012Validator(tool.parameters).iter_errors(
                json.loads(arguments)))
            if errors:
                return [e.message for e in errors]
    except ToolArgumentError as exc:
        problems = list(exc.problems)
    except ValueError as exc:
        problems = [f"arguments are not valid JSON ({exc})"]
    else:
        return []
    if finish_reason == "length":
        problems.insert(0, f"the call was cut at max_tokens={max_tokens} before its arguments "
                           "were complete; raise max_tokens")
    return problems


def _call_complete(text: str) -> bool:
    """Arguments plus the call's closing brace are complete."""
    stripped = text.rstrip()
    return stripped.endswith("}") and json_complete(stripped[:-1])
