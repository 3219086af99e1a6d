"""The plugin host: a lazily built pluggy manager plus the registries it feeds.

Nothing here runs at import. A :class:`Host` loads the default plugins (modules of
this package that use the same hooks as everyone else), then third-party plugins
from the ``sapient`` entry-point group. A plugin that fails to import or to register
is recorded in :attr:`Host.load_errors` (with its traceback) and skipped: the host
keeps working. Environment switches:

``SAPIENT_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry-point plugins (default plugins still load).
``SAPIENT_PLUGINS=a,b``
    load only the named entry-point plugins.
``SAPIENT_TRACE_PLUGINS=1``
    print every hook call to stderr.
``SAPIENT_BLOCK_PLUGINS=a,b``
    load none of the named plugins, default ones included (to replace one, e.g. the
    safety policy ``sapient.plugins.policy``, with an installed alternative).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, PluginError, SapientError, ToolDefinitionError
from .settings import Settings
from .tools import Tool

__all__ = [
    "Host",
    "PluginLoadError",
    "Registration",
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "create_plugin_manager",
    "layered_plugin_manager",
    "default_host",
    "call_hookimpl",
]

ENTRY_POINT_GROUP = "sapient"

#: Built-in plugins, loaded through the same hooks as third-party ones so that any of
#: them can be wrapped or replaced. Each must import without optional SDKs.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "sapient.core.runtime",
    "sapient.plugins.policy",
    "sapient.connectors.scripted",
    "sapient.connectors.openai",
    "sapient.connectors.llamacpp",
    "sapient.connectors.embeddings",
    "sapient.connectors.ladybug",
    "sapient.connectors.neo4j",
    "sapient.connectors.langchain",
    "sapient.plugins.functions",
    "sapient.plugins.retrieval",
    "sapient.plugins.knowledge_graph",
    "sapient.plugins.demo",
    "sapient.plugins.anomaly",
    "sapient.plugins.tracing",
    "sapient.plugins.mcp",
    "sapient.plugins.serve",
)


@dataclass
class PluginLoadError:
    """A plugin that could not be loaded or failed while registering."""

    plugin: str
    stage: str
    error: str
    traceback: str


@dataclass
class Registration:
    """Something a plugin registered (an LLM scheme, embedder, store or command)."""

    name: str
    value: Any
    plugin: str
    help: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    replaced: str | None = None  # the built-in plugin whose registration this one replaced


def call_hookimpl(pm: pluggy.PluginManager, hook_name: str, impl: Any, **available: Any) -> Any:
    """Call one hook implementation with the arguments it asks for.

    For hooks the host calls plugin by plugin (registries, for per-plugin isolation and
    provenance; guards, which chain), traced like pluggy's own calls under
    ``SAPIENT_TRACE_PLUGINS=1``.
    """
    pm.trace.root.get("hook")(hook_name, {"plugin": impl.plugin_name})
    return impl.function(*[available[a] for a in impl.argnames])


_MISSING = object()
_PARSED: dict[tuple[str, int, str], tuple[Any, Any]] = {}


def _parsed_once(kind: str, namespace: Any, name: str,
                 parse: Callable[[Any, str], Any]) -> Any:
    """``parse(namespace, name)``, remembered while ``namespace.name`` stays the same.

    Registering a plugin makes pluggy inspect every attribute of it; an agent with
    plugins of its own re-registers the host's plugins, so the answers are kept per
    module, or per class for the methods of plugin objects.
    """
    attr = namespace.__dict__.get(name, _MISSING)
    key = (kind, id(namespace), name)
    hit = _PARSED.get(key)
    if hit is None or hit[0] is not attr:
        opts = parse(namespace, name)
        hit = _PARSED[key] = (attr, None if opts is None else dict(opts))
    return None if hit[1] is None else dict(hit[1])


def _class_attr(plugin: Any, name: str) -> Any:
    """Where ``plugin.name`` comes from when it is not the object's own attribute: the
    first class of its MRO that defines it (``None`` if none does)."""
    if name in getattr(plugin, "__dict__", {}):
        return None
    return next((k for k in type(plugin).__mro__ if name in k.__dict__), None)


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, with hook discovery remembered (see ``_parsed_once``)."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        parse = super().parse_hookimpl_opts
        if isinstance(plugin, types.ModuleType):
            return _parsed_once("impl", plugin, name, parse)
        owner = _class_attr(plugin, name) if not isinstance(plugin, type) else None
        if owner is not None:  # a method: the same for every object of that class
            return _parsed_once("impl", owner, name, lambda _, n: parse(plugin, n))
        return parse(plugin, name)

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        if isinstance(module_or_class, types.ModuleType):
            return _parsed_once("spec", module_or_class, name, super().parse_hookspec_opts)
        return super().parse_hookspec_opts(module_or_class, name)


def create_plugin_manager(*, trace: bool | None = None) -> pluggy.PluginManager:
    """A bare plugin manager with Sapient's hook specs (no plugins registered)."""
    pm = _PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if trace if trace is not None else os.environ.get("SAPIENT_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
        pm.enable_tracing()
    return pm


def layered_plugin_manager(base: pluggy.PluginManager,
                           plugins: Iterable[Any]) -> pluggy.PluginManager:
    """A new manager holding ``base``'s plugins (same names, same order), then ``plugins``.

    What an agent with plugins of its own runs on: the host's plugins apply, and the
    agent's own ones reach no other agent. ``base`` is left untouched.
    """
    pm = create_plugin_manager()
    for name, plugin in base.list_name_plugin():
        if plugin is not None:  # None: a plugin blocked on the host
            pm.register(plugin, name=name)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    return pm


_default_lock = threading.Lock()
_default: tuple[Any, Host] | None = None


def default_host() -> Host:
    """The host of agents built without ``host=``: ``Host()`` for the current environment.

    One per environment (``os.environ`` and ``sys.path``, which decide settings and
    entry points) rather than one per agent, so plugins load once and a model named
    by spec is loaded once however many agents use it. When the environment changes
    (a test setting ``SAPIENT_LLM``, an installed plugin on a new path entry), the
    next call builds a fresh host; the old one is dropped.
    """
    global _default
    key = (frozenset(os.environ.items()), tuple(sys.path))
    with _default_lock:
        if _default is None or _default[0] != key:
            _default = (key, Host())
        return _default[1]


class Host:
    """Owns a plugin manager and the registries built from it.

    Args:
        settings: explicit settings; default ``Settings.from_env()``.
        plugins: extra plugin objects or modules to register (e.g. in tests).
        load_defaults: load the built-in default plugins.
        load_entrypoints: load third-party entry points; default follows
            ``SAPIENT_DISABLE_PLUGIN_AUTOLOAD``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        plugins: Iterable[Any] = (),
        load_defaults: bool = True,
        load_entrypoints: bool | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self.pm = create_plugin_manager()
        self.load_errors: list[PluginLoadError] = []
        self._loaded = False
        self._load_defaults = load_defaults
        if load_entrypoints is None:
            load_entrypoints = os.environ.get("SAPIENT_DISABLE_PLUGIN_AUTOLOAD") != "1"
        self._load_entrypoints = load_entrypoints
        self._extra_plugins = list(plugins)
        self._tools: dict[str, Tool] | None = None
        self._registries: dict[str, dict[str, Registration]] = {}
        self._instances: dict[tuple[str, str], Any] = {}
        # Re-entrant: building a registry may resolve another (a tool asking for the
        # embedder), and the first tools() from several threads must build it once.
        self._lock = threading.RLock()

    # -- loading -----------------------------------------------------------------

    def load(self) -> Host:
        """Load plugins once (idempotent, thread-safe). Called by every accessor."""
        if self._loaded:
            return self
        with self._lock:
            if not self._loaded:
                self._load_all()
                self._loaded = True
        return self

    def _load_all(self) -> None:
        blocked = {p.strip() for p in os.environ.get("SAPIENT_BLOCK_PLUGINS", "").split(",")
                   if p.strip()}
        for name in blocked:
            self.pm.set_blocked(name)
        if self._load_defaults:
            for modname in DEFAULT_PLUGINS:
                if modname not in blocked:
                    self._register_module(modname, modname)
        if self._load_entrypoints:
            self._load_entry_points()
        for plugin in self._extra_plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._safe_register(plugin, name)

    def is_default_plugin(self, name: str) -> bool:
        """Whether ``name`` is one of the built-in default plugins."""
        return name in DEFAULT_PLUGINS

    def _register_module(self, modname: str, name: str) -> None:
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            self._record(name, "import", exc)
            return
        self._safe_register(module, name)

    def _safe_register(self, plugin: Any, name: str) -> None:
        try:
            if self.pm.is_registered(plugin):
                return
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._record(name, "register", exc)

    def _load_entry_points(self) -> None:
        only = {p.strip() for p in os.environ.get("SAPIENT_PLUGINS", "").split(",") if p.strip()}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if only and ep.name not in only:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._record(ep.name, "import", exc)
                continue
            self._safe_register(plugin, ep.name)

    def _record(self, plugin: str, stage: str, exc: BaseException) -> None:
        self.load_errors.append(
            PluginLoadError(
                plugin=plugin,
                stage=stage,
                error=f"{type(exc).__name__}: {exc}",
                traceback="".join(traceback.format_exception(exc)),
            )
        )

    def plugin_names(self) -> list[str]:
        """Names of the registered plugins, defaults first."""
        self.load()
        return [name for name, plugin in self.pm.list_name_plugin() if plugin is not None]

    # -- registries --------------------------------------------------------------

    def _call_each(self, hook_name: str, make_register: Callable[[str], Callable[..., Any]]) -> None:
        """Call one registry hook per plugin, isolating failures and recording provenance."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order (pluggy calls LIFO)
            plugin_name = impl.plugin_name
            try:
                call_hookimpl(self.pm, hook_name, impl, register=make_register(plugin_name),
                              settings=self.settings, host=self)
            except Exception as exc:
                self._record(plugin_name, hook_name, exc)

    def tools(self) -> dict[str, Tool]:
        """Every tool registered by a plugin, by name."""
        self.load()
        if self._tools is not None:
            return self._tools
        with self._lock:
            if self._tools is None:
                self._tools = self._build_tools()
        return self._tools

    def _build_tools(self) -> dict[str, Tool]:
        tools: dict[str, Tool] = {}

        def make_register(plugin_name: str) -> Callable[..., Any]:
            def register(fn_or_tool: Any, name: str | None = None) -> Tool:
                t = fn_or_tool if isinstance(fn_or_tool, Tool) else Tool.from_function(
                    fn_or_tool, name=name
                )
                if name and t.name != name:
                    t.name = name
                if t.name in tools:
                    raise ToolDefinitionError(
                        f"Tool '{t.name}' from plugin '{plugin_name}' clashes with the tool "
                        f"of that name from plugin '{tools[t.name].source}'. Register it "
                        "under another name: register(fn, name='...').",
                        tool=t.name,
                    )
                t.source = plugin_name
                tools[t.name] = t
                return t

            return register

        self._call_each("register_tools", make_register)
        return tools

    def registry(self, kind: str) -> dict[str, Registration]:
        """Registrations of one kind: ``llms``, ``embedders``, ``graph_stores``,
        ``document_stores``, ``commands``.

        Precedence: a non-default plugin's registration replaces a built-in one of the
        same name (``Registration.replaced`` names the built-in); between two
        non-default plugins the first wins and the clash is reported.
        """
        self.load()
        if kind in self._registries:
            return self._registries[kind]
        with self._lock:
            if kind not in self._registries:
                self._registries[kind] = self._build_registry(kind)
        return self._registries[kind]

    def _build_registry(self, kind: str) -> dict[str, Registration]:
        entries: dict[str, Registration] = {}

        def make_register(plugin_name: str) -> Callable[..., Any]:
            def register(name: str, value: Any, help: str = "", **extra: Any) -> None:
                old = entries.get(name)
                if old is not None and not (self.is_default_plugin(old.plugin)
                                            and not self.is_default_plugin(plugin_name)):
                    raise PluginError(
                        f"{kind[:-1]} '{name}' from plugin '{plugin_name}' clashes with the "
                        f"one from plugin '{old.plugin}'; the first one is kept.",
                        plugin=plugin_name,
                    )
                entries[name] = Registration(name, value, plugin_name, help, extra,
                                             replaced=old.plugin if old else None)

            return register

        self._call_each(f"register_{kind}", make_register)
        return entries

    def _resolve(self, kind: str, spec: str, what: str) -> Any:
        scheme, _, rest = spec.partition(":")
        entries = self.registry(kind)
        if scheme not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise ConfigurationError(
                f"Unknown {what} '{scheme}' in {spec!r}. Known: {known}. "
                f"Write it as '<scheme>:<name>', e.g. '{next(iter(sorted(entries)), 'openai')}:...'; "
                "a missing scheme may need its extra installed (pip install 'sapient[all]')."
            )
        try:
            return self._call_factory(entries[scheme].value, rest)
        except SapientError:
            raise
        except ImportError as exc:
            raise ConfigurationError(
                f"The {what} '{scheme}' needs a package that is not installed ({exc}). "
                "Install Sapient's extras: pip install 'sapient[all]'."
            ) from exc

    def _call_factory(self, factory: Callable[..., Any], rest: str) -> Any:
        """``factory(rest, settings)``, plus ``host`` when the factory asks for it."""
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        if "host" in params or len(params) >= 3:
            return factory(rest, self.settings, self)
        return factory(rest, self.settings)

    def _shared(self, kind: str, spec: str, build: Callable[[], Any]) -> Any:
        """One instance per (kind, spec) for this host: one model load per process."""
        key = (kind, spec)
        with self._lock:
            if key not in self._instances:
                self._instances[key] = build()
            return self._instances[key]

    def llm(self, spec: str | None = None) -> Any:
        """The LLM named by ``spec`` or by the settings (``SAPIENT_LLM``).

        Built once per spec and host, so every tool and agent of the host shares one
        loaded model.
        """
        spec = spec or self.settings.llm
        if not spec:
            raise ConfigurationError(
                "No LLM is configured. Choose one of:\n"
                "  - pass --llm SPEC on the command line, or set SAPIENT_LLM=SPEC;\n"
                "  - in Python: Agent(llm='SPEC') or Agent(llm=<LLM object>).\n"
                "SPEC examples: 'llamacpp:default' (local, needs sapient[local]), "
                "'openai:gpt-4o-mini' (needs OPENAI_API_KEY), "
                "'openai:http://127.0.0.1:11434/v1#llama3.1' (Ollama or any "
                "OpenAI-compatible server), 'scripted:echo' (a test double)."
            )
        return self._shared("llms", spec, lambda: self._resolve("llms", spec, "LLM provider"))

    def embedder(self, spec: str | None = None) -> Any:
        """The embedder named by ``spec`` or by the settings (built once per spec)."""
        spec = spec or self.settings.embedder
        return self._shared("embedders", spec,
                            lambda: self._resolve("embedders", spec, "embedder"))

    def graph_store(self, spec: str | None = None) -> Any:
        """A new knowledge-graph store named by ``spec`` or by the settings.

        Not shared: a store holds a connection the caller closes.
        """
        return self._resolve("graph_stores", spec or self.settings.graph_spec, "graph store")

    def document_store(self, spec: str) -> Any:
        """A new document store named by ``spec`` (``faiss:PATH``, ``milvus:...``)."""
        return self._resolve("document_stores", spec, "document store")

    def check_pending(self) -> None:
        """Fail if a loaded plugin implements a hook Sapient does not define."""
        self.load()
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(str(exc)) from exc
