"""Build a model from a spec when Python code gave no host.

Tools always resolve models through the host they were given (``host.llm()``,
``host.embedder()``), so the user's plugins, settings and wrappers apply. Plain
Python use such as ``DocumentIndex.open("my-index", create=True)`` or
``detect(series, method="llm-prompter", llm="llamacpp:default")`` has no host; there
the spec is handed to the factory that a built-in connector registers for its scheme,
without loading any plugin or entry point. Pass ``host=`` to those APIs to get the
host's resolution instead (third-party schemes, shared model instances).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Literal

from sapient.core.errors import ConfigurationError
from sapient.core.plugins import DEFAULT_PLUGINS

__all__ = ["resolve_builtin"]

Kind = Literal["llms", "embedders"]


def _builtin_factories(kind: Kind) -> dict[str, Any]:
    """Scheme -> factory from the built-in connectors' registry hooks."""
    factories: dict[str, Any] = {}

    def register(name: str, value: Any, help: str = "", **extra: Any) -> None:
        factories.setdefault(name, value)

    for modname in DEFAULT_PLUGINS:
        if not modname.startswith("sapient.connectors."):
            continue
        try:
            module = importlib.import_module(modname)
        except ImportError:  # a connector whose extra is missing offers nothing
            continue
        hook = getattr(module, f"register_{kind}", None)
        if hook is not None:
            wanted = inspect.signature(hook).parameters
            hook(**{k: v for k, v in (("register", register), ("host", None)) if k in wanted})
    return factories


def resolve_builtin(kind: Kind, spec: str | None, settings: Any = None) -> Any:
    """The LLM or embedder named by ``spec`` (default: the settings'), built-ins only."""
    from sapient.core.settings import Settings

    settings = settings if settings is not None else Settings.from_env()
    spec = spec or (settings.llm if kind == "llms" else settings.embedder)
    if not spec:
        raise ConfigurationError(
            "No LLM is configured: pass an LLM object or a spec such as 'llamacpp:default' "
            "or 'openai:gpt-4o-mini', or set SAPIENT_LLM.")
    scheme, _, rest = spec.partition(":")
    factories = _builtin_factories(kind)
    if scheme not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ConfigurationError(
            f"Unknown {kind[:-1]} scheme '{scheme}' in {spec!r} (built-in: {known}). A scheme "
            "from an installed plugin needs a host: pass host=sapient.Host().")
    try:
        return factories[scheme](rest, settings)
    except ImportError as exc:
        raise ConfigurationError(
            f"The {kind[:-1]} '{scheme}' needs a package that is not installed ({exc}). "
            "Install Sapient's extras: pip install 'sapient[all]'.") from exc
