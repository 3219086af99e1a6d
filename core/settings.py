"""Explicit settings: no hidden global defaults.

A :class:`Settings` object is built from arguments or from the environment
(``Settings.from_env()``) and handed to whatever needs it; nothing reads the
environment behind the caller's back once a Settings exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings"]


def _default_home() -> Path:
    return Path(os.environ.get("SAPIENT_HOME") or Path.home() / ".sapient")


@dataclass(frozen=True)
class Settings:
    """Where Sapient keeps data and which models and stores it uses.

    Attributes:
        llm: the LLM to use, e.g. ``"openai:gpt-4o-mini"``,
            ``"openai:http://127.0.0.1:11434/v1#llama3.1"``, ``"llamacpp:default"``.
            ``None`` means "not configured": asking for an LLM then raises a
            ConfigurationError that lists the ways to configure one.
        home: folder for indexes, graphs and model caches (``SAPIENT_HOME``,
            default ``~/.sapient``).
        embedder: embedding model spec (``SAPIENT_EMBEDDER``).
        graph: knowledge-graph store spec (``SAPIENT_GRAPH``); default an embedded
            LadybugDB database under ``home``.
        index: name of the default document index (``SAPIENT_INDEX``).
        extra: free-form settings for third-party plugins.
    """

    llm: str | None = None
    home: Path = field(default_factory=_default_home)
    embedder: str = "sentence-transformers:all-MiniLM-L6-v2"
    graph: str | None = None
    index: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept str paths too: Settings(home="~/data") is a natural thing to write.
        if not isinstance(self.home, Path):
            object.__setattr__(self, "home", Path(self.home).expanduser())

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``SAPIENT_*`` environment variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("SAPIENT_LLM"):
            values["llm"] = env["SAPIENT_LLM"]
        if env.get("SAPIENT_HOME"):
            values["home"] = Path(env["SAPIENT_HOME"])
        if env.get("SAPIENT_EMBEDDER"):
            values["embedder"] = env["SAPIENT_EMBEDDER"]
        if env.get("SAPIENT_GRAPH"):
            values["graph"] = env["SAPIENT_GRAPH"]
        if env.get("SAPIENT_INDEX"):
            values["index"] = env["SAPIENT_INDEX"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" in values:
            values["home"] = Path(values["home"]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def graph_spec(self) -> str:
        """The graph store spec, defaulting to an embedded LadybugDB under ``home``."""
        return self.graph or f"ladybug:{self.graph_dir()}"

    def graph_dir(self, name: str | None = None) -> Path:
        """Folder of a named embedded graph (``default`` when no name is given).

        The one place that says where graphs live: the default spec, a bare graph
        name (``--graph people``) and ``ladybug:`` without a path all use it.
        """
        return self.home / "graphs" / (name or "default")

    def index_dir(self, name: str | None = None) -> Path:
        """Folder of a named document index."""
        return self.home / "indexes" / (name or self.index)
