"""Grounded answers: composed from the evidence for models that cannot write them,
checked against it for models that can.

A default plugin, so it applies to every agent of a host (the demo, ``sapient run``
and ``chat``, user code):

* it records what each tool returns (a ``call_tool`` wrapper);
* for a model whose ``writes_answers`` attribute is false (the bundled 270M base
  model, ``llamacpp:default``; any model with ``?writes_answers=0`` in a llama.cpp
  spec, or ``llm.writes_answers = False`` in Python), the first model turn must call
  a tool (``tool_choice="required"`` unless a tool is named). The model chooses the
  tool; a tool whose one required input is a text gets the user's question as it
  was asked (a base model rewrites it into something else, often an example it was
  shown, and cannot improve on it). When there is nothing to choose (one such tool,
  or the one ``tool_choice`` names), the call is made without asking the model. Once a tool has answered, the answer is
  composed from its output instead of asking the model: the sentences of the
  evidence that answer the latest question, each with its citation, or "No
  sufficient evidence" with the reason (see ``_compose`` and ``_text.unstated``);
* for a model that writes answers, the answer's sentences that no cited passage
  supports are marked ``[unsupported]`` (see ``_grounding``).

``Settings(extra={"answer_min_score": x})`` changes the answer threshold.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sapient import ConfigurationError, LLMResponse, Tool, ToolCall, hookimpl

from ._compose import ABSTAIN, DEFAULT_MIN_SCORE, MAX_WORDS, Composed, compose
from ._evidence import Evidence, evidence_of, record
from ._grounding import MARK, Grounding, check
from ._scorer import SentenceScorer

__all__ = ["ABSTAIN", "DEFAULT_MIN_SCORE", "MARK", "MAX_WORDS", "Composed", "Evidence",
           "Grounding", "SentenceScorer", "check", "compose", "writes_answers"]

GROUNDING_KEY = "sapient.answers.grounding"
#: Metadata key of a tool shown without its text argument (the question fills it).
QUESTION_ARGUMENT = "sapient.answers.question_argument"
#: Most tokens a model that cannot write answers may spend on its tool call.
FIRST_TURN_TOKENS = 64


def writes_answers(llm: Any) -> bool:
    """Whether a model writes its own answers (``llm.writes_answers``, default true)."""
    return bool(getattr(llm, "writes_answers", True))


def _host(run: Any) -> Any:
    return getattr(getattr(run, "agent", None), "host", None)


def _scorer(run: Any) -> SentenceScorer:
    host = _host(run)
    try:
        embedder = host.embedder() if host is not None else None
    except Exception:  # no embedding extra: lexical coverage alone
        embedder = None
    return SentenceScorer(embedder)


def _min_score(run: Any) -> float:
    host = _host(run)
    extra = getattr(getattr(host, "settings", None), "extra", None) or {}
    return float(extra.get("answer_min_score", DEFAULT_MIN_SCORE))


def _question(messages: Any) -> str:
    """The latest user message: in a conversation, the question being answered."""
    return next((m.content or "" for m in reversed(messages) if m.role == "user"), "")


def _emit_text(request: Any, text: str) -> None:
    if request.streaming and request.run is not None:
        from sapient.core.messages import TextDelta

        request.run.emit(TextDelta(text))


@hookimpl(wrapper=True)
def call_tool(invocation: Any) -> Any:
    """Keep each tool's output (or error) for the answer of this run."""
    try:
        value = yield
    except Exception as exc:
        record(invocation, error=exc)
        raise
    record(invocation, value)
    return value


def _must_look_up(request: Any) -> None:
    """A model that cannot answer must call a tool on its first turn."""
    choice = request.options.get("tool_choice")
    if not request.tools or choice == "none":
        raise ConfigurationError(
            f"The model {getattr(request.llm, 'model', request.llm)!r} does not write answers "
            "itself (a base model), so it answers from what its tools find, and this run "
            "gives it no tool to call. Give it tools, or choose a chat model with --llm "
            "(or SAPIENT_LLM).")
    options = dict(request.options)
    if choice in (None, "auto") or (isinstance(choice, str) and choice not in
                                     {"required", "none"} | {t.name for t in request.tools}):
        options["tool_choice"] = "required"
    # A base model's useful arguments are short (ids, numbers, names); a text argument
    # of a one-text tool is replaced by the question anyway (ask_in_the_users_words).
    options["max_tokens"] = min(int(options.get("max_tokens") or FIRST_TURN_TOKENS),
                                FIRST_TURN_TOKENS)
    request.options = options


@hookimpl(tryfirst=True, specname="call_model")
def compose_answer(request: Any) -> LLMResponse | None:
    """For a model that cannot write answers: compose one once a tool has answered."""
    if writes_answers(request.llm):
        return None
    evidence = evidence_of(request.run)
    failed = {e.tool for e in evidence if e.error is not None}
    others = [t for t in request.tools if t.name not in failed]
    if not evidence or (len(failed) == len(evidence) and others):
        # Nothing found yet: look up, with another tool when one failed (a base model
        # picks the tool but cannot repair a call from an error message).
        request.tools = others
        _must_look_up(request)
        call = _determined_call(request)
        if call is None:  # the model chooses the tool, and writes only what it must
            request.tools = [_choice_view(t) for t in request.tools]
        return call
    composed = compose(_question(request.messages), evidence, _scorer(request.run),
                       _min_score(request.run))
    _emit_text(request, composed.text)
    return LLMResponse(text=composed.text, finish_reason="stop", model="sapient:composer",
                       raw={"composed": asdict(composed)})


def _determined_call(request: Any) -> LLMResponse | None:
    """The call when there is nothing for the model to decide: one tool (or the one
    named by ``tool_choice``) whose only input is the question. Otherwise None."""
    choice = request.options.get("tool_choice")
    tools = [t for t in request.tools if t.name == choice] or list(request.tools)
    question = _question(request.messages)
    if len(tools) != 1 or not question:
        return None
    name = _request_argument(tools[0])
    if name is None:
        return None
    return LLMResponse(tool_calls=[ToolCall(tools[0].name, {name: question})],
                       finish_reason="tool_calls", model="sapient:composer")


def _choice_view(tool: Any) -> Any:
    """What a model that cannot write answers is shown of a one-text tool: the tool
    without its argument, which will be the question (``ask_in_the_users_words``), so
    the model chooses the tool and is not asked to write text that is thrown away."""
    name = _request_argument(tool)
    if name is None:
        return tool
    return Tool(name=tool.name, description=tool.description,
                parameters={"type": "object", "properties": {}}, function=tool.function,
                timeout=tool.timeout, source=tool.source, is_async=tool.is_async,
                metadata={**tool.metadata, QUESTION_ARGUMENT: name}, effects=tool.effects)


def _request_argument(tool: Any) -> str | None:
    """The one required text input of a tool, if that is all it needs."""
    if QUESTION_ARGUMENT in (tool.metadata or {}):
        return str(tool.metadata[QUESTION_ARGUMENT])
    params = tool.parameters or {}
    required = list(params.get("required") or [])
    if len(required) != 1:
        return None
    spec = (params.get("properties") or {}).get(required[0]) or {}
    return required[0] if spec.get("type") == "string" else None


@hookimpl(wrapper=True, specname="call_model")
def ask_in_the_users_words(request: Any) -> Any:
    """For a model that cannot write answers: a one-text tool gets the question itself."""
    response = yield
    if (writes_answers(request.llm) or not isinstance(response, LLMResponse)
            or not response.tool_calls):
        return response
    tools = {t.name: t for t in request.tools}
    question = _question(request.messages)
    for call in response.tool_calls:
        name = _request_argument(tools[call.name]) if call.name in tools else None
        if name is not None and question:
            call.arguments = {name: question}
    return response


@hookimpl(wrapper=True, specname="call_model")
def check_grounding(request: Any) -> Any:
    """For a model that writes answers: mark sentences no cited passage supports."""
    response = yield
    if (not writes_answers(request.llm) or not isinstance(response, LLMResponse)
            or response.tool_calls or not response.text):
        return response
    evidence = evidence_of(request.run)
    if not any(e.citations for e in evidence):
        return response
    grounding = check(response.text, evidence, _scorer(request.run), _min_score(request.run))
    request.run.state[GROUNDING_KEY] = grounding
    if grounding.unsupported:
        response.text = grounding.text
        _emit_text(request, "".join(f"\n{MARK} {s}" for s in grounding.unsupported))
    return response
