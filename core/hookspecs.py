"""Every hook Sapient defines, in one place.

Plugins implement these with ``@sapient.hookimpl``. Registry hooks receive a
``register`` callback and the ``host`` being built: the host owns name clashes,
validation and provenance, and a plugin resolves the models and stores its tools need
through that host (``host.llm()``, ``host.embedder()``, ``host.graph_store()``,
``host.document_store(spec)``) instead of building a ``Host`` of its own. Runtime hooks
``call_tool`` and ``call_model`` are meant to be *wrapped* (``@hookimpl(wrapper=True)``):
the built-in implementation does the real call and wrappers add tracing, approval,
retries, caching or redaction around it.

A hookimpl may accept any subset of the arguments named in the spec, so a hook can gain
an argument without breaking the plugins written before it.

Where hooks apply: the host's plugins (defaults, installed entry points,
``Host(plugins=...)``) to every agent of the host, including agents built without
``host=`` (they share the environment's default host); an agent's own ``plugins=`` to
that agent only, for the runtime hooks (registries are the host's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .runtime import ModelRequest, RunContext, ToolInvocation

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "sapient"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registries (called once, when a plugin manager's registry is first read) -------


@hookspec
def register_tools(register: Any, settings: Any, host: Any) -> None:
    """Register tools the agent may use.

    Called when the host builds its tool registry (lazily, on first use).

    Args:
        register: ``register(fn_or_tool, name=None)``; accepts a plain typed function
            (turned into a :class:`~sapient.Tool`) or a ready ``Tool``. A clash with a
            name registered earlier raises ``ToolDefinitionError`` for the later one,
            which the host reports against that plugin.
        settings: the host's :class:`~sapient.Settings` (data paths, chosen models).
        host: the :class:`~sapient.Host` being built: tools resolve their LLMs,
            embedders and stores through it (``host.llm()``, ``host.embedder()``,
            ``host.graph_store()``), so the user's settings and plugins reach them.

    Returns nothing. Not firstresult: every plugin's tools are collected.
    """


@hookspec
def register_llms(register: Any, host: Any) -> None:
    """Register LLM factories by URI scheme.

    Args:
        register: ``register(scheme, factory, help="")``; ``factory(rest, settings)``
            builds an LLM from the part after ``scheme:`` (``openai:gpt-4o-mini`` gives
            ``"gpt-4o-mini"``). ``Host.llm(spec)`` calls it once per spec and host.
        host: the :class:`~sapient.Host` (may be ignored).

    Factories may take a third argument, ``host``: ``factory(rest, settings, host)``.
    Precedence: a scheme registered by a non-default plugin (an entry point or a plugin
    given to the host) replaces a built-in one of the same name; between two
    non-default plugins the first registration wins and the clash is reported. The
    same rule holds for every registry hook below; ``sapient plugins`` shows which
    plugin won.

    Returns nothing. Not firstresult.
    """


@hookspec
def register_embedders(register: Any, host: Any) -> None:
    """Register text-embedding factories by scheme (``sentence-transformers``, ``openai``).

    Args:
        register: ``register(scheme, factory, help="")``; ``factory(rest, settings)``
            (or ``factory(rest, settings, host)``) returns an object with
            ``embed(texts: list[str]) -> numpy.ndarray`` (rows L2-normalised) and a
            ``dimension`` attribute. ``Host.embedder(spec)`` builds one per spec.
        host: the :class:`~sapient.Host` (may be ignored).

    Returns nothing. Not firstresult.
    """


@hookspec
def register_graph_stores(register: Any, host: Any) -> None:
    """Register knowledge-graph store factories by scheme (``ladybug``, ``neo4j``).

    Args:
        register: ``register(scheme, factory, help="")``; ``factory(rest, settings)``
            (or ``factory(rest, settings, host)``) returns a graph store
            (the protocol and its types: ``sapient.connectors.graph``).
        host: the :class:`~sapient.Host` (may be ignored).

    A store registered under a built-in scheme (``ladybug``, ``neo4j``) by a
    non-default plugin replaces the built-in one for every graph tool of the host.

    Returns nothing. Not firstresult.
    """


@hookspec
def register_document_stores(register: Any, host: Any) -> None:
    """Register document-store factories by scheme (``faiss``, ``milvus``).

    Args:
        register: ``register(scheme, factory, help="")``; ``factory(rest, settings)``
            (or ``factory(rest, settings, host)``) returns a document store.
        host: the :class:`~sapient.Host` (may be ignored).

    Returns nothing. Not firstresult.
    """


@hookspec
def register_commands(register: Any, host: Any) -> None:
    """Add sub-commands to the ``sapient`` command line.

    Args:
        register: ``register(name, run, help="", configure=None)``; ``configure``
            receives the sub-command's ``argparse.ArgumentParser`` to add arguments,
            ``run(args, host)`` executes it and returns an exit code.
        host: the :class:`~sapient.Host` (may be ignored).

    Returns nothing. Not firstresult.
    """


# --- runtime (called during a run) ---------------------------------------------------


@hookspec(firstresult=True)
def call_tool(invocation: ToolInvocation) -> Any:
    """Run one validated tool call.

    Called once per tool call, after its arguments were validated (several calls of
    one model turn run concurrently, on worker threads). The built-in implementation
    (``trylast``) runs :meth:`~sapient.Tool.invoke` (timeout included). It is the one
    place every tool call of every agent passes, so policies live here. Wrappers
    (``@hookimpl(wrapper=True)``) see the result or the exception and may change
    either, retry, or refuse by raising.

    Args:
        invocation: the tool, its validated arguments, the raw call and the run.

    Returns the tool's return value. firstresult: one implementation runs the tool.
    """


@hookspec(firstresult=True)
def call_model(request: ModelRequest) -> Any:
    """Call the LLM for one turn.

    Called once per model turn: on the caller's thread in ``Agent.run``, on a worker
    thread in async and streaming runs. Every model call of a run comes through here.
    The built-in implementation calls ``llm.complete`` (or streams, pushing text
    deltas to the run; a stream that ends without a ``finish_reason`` raises a
    retryable ``LLMError``). Wrappers may edit ``request.messages``/``request.options``
    before ``yield`` and inspect or replace the :class:`~sapient.LLMResponse` after it.

    Args:
        request: the LLM, the messages, the tool list, options and the run.

    Returns an ``LLMResponse``. firstresult: one implementation calls the model.
    """


@hookspec
def on_event(event: Any, run: RunContext) -> None:
    """Observe every event of a run (start, text delta, tool call, answer, error).

    Called in the order events happen, on the thread that produced them; keep it
    quick. Exceptions raised here are programming errors and abort the run.

    Args:
        event: a :class:`~sapient.core.messages.Event` subclass.
        run: the run's context (agent, messages so far, usage).

    Returns nothing.
    """


@hookspec
def check_input(text: str, run: RunContext) -> str | None:
    """Guard the user's prompt before the model sees it.

    Called once per run, before the first model call. Raise
    :class:`~sapient.GuardViolation` to refuse; return a string to replace the prompt
    (e.g. redacted); return ``None`` to leave it. Implementations chain in order.

    Returns ``str | None``. Not firstresult.
    """


@hookspec
def check_output(text: str, run: RunContext) -> str | None:
    """Guard the final answer before it is returned.

    Called once per run on the final text. Raise ``GuardViolation`` to refuse;
    return a string to replace the answer; ``None`` leaves it. While a run streams, it
    is also called on the text of the model turn so far (before each release of
    streamed text, see ``sapient.core._streamguard``), so it must depend on the text
    alone and do nothing else (no counting, no side effects).

    Returns ``str | None``. Not firstresult.
    """
