"""Local GGUF models run in-process by llama.cpp, with grammar-constrained tool calls.

Spec strings (``--llm``, ``SAPIENT_LLM``, ``Agent(llm=...)``)::

    llamacpp:default                        the bundled Gemma 3 270M (sapient[local])
    llamacpp:/models/qwen2.5-1.5b.gguf      any GGUF file
    llamacpp:default?n_ctx=8192&threads=4   options after '?', joined by '&'

Options: ``n_ctx`` (context tokens, default 4096), ``threads`` (CPU threads,
default half the logical CPUs), ``n_batch``, ``chat_format`` (``template``,
``gemma``, ``chatml``, ``llama-3``), ``temperature`` (default 0: greedy),
``max_tokens`` (default 512), ``seed``, ``top_k``, ``top_p``, ``choose_tool``
(``likelihood``, the default, or ``grammar``: how one of several tools is chosen),
``verbose`` (llama.cpp's own log on stderr; silent otherwise), ``writes_answers``
(``1``/``0``: whether the model can write answers from tool results itself; default
``0`` for the bundled base model, ``1`` for other files).

Importing this module does not import ``llama_cpp``; the model loads on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from sapient.core.errors import ConfigurationError
from sapient.core.hookspecs import hookimpl

from ._connector import LlamaCppLLM, load_llama
from ._grammar import choice_grammar, digits_grammar, schema_grammar
from ._model import default_model_path, resolve_model_path

__all__ = [
    "LlamaCppLLM",
    "choice_grammar",
    "default_model_path",
    "digits_grammar",
    "from_spec",
    "load_llama",
    "parse_spec",
    "schema_grammar",
]

def _flag(value: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``."""
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


_flag.__name__ = "flag (1 or 0)"

_OPTIONS: dict[str, tuple[str, Any]] = {
    "n_ctx": ("n_ctx", int),
    "ctx": ("n_ctx", int),
    "threads": ("n_threads", int),
    "n_threads": ("n_threads", int),
    "n_batch": ("n_batch", int),
    "chat_format": ("chat_format", str),
    "temperature": ("temperature", float),
    "max_tokens": ("max_tokens", int),
    "seed": ("seed", int),
    "top_k": ("top_k", int),
    "top_p": ("top_p", float),
    "choose_tool": ("choose_tool", str),
    "verbose": ("verbose", _flag),
    "writes_answers": ("writes_answers", _flag),
}


def parse_spec(rest: str) -> tuple[str, dict[str, Any]]:
    """Split ``default?n_ctx=4096&threads=2`` into the model name and typed options."""
    name, _, query = rest.partition("?")
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _OPTIONS:
            raise ConfigurationError(
                f"Unknown llamacpp option '{key}' in {rest!r}. Known: "
                f"{', '.join(sorted(_OPTIONS))}. Example: 'llamacpp:default?n_ctx=4096&threads=2'."
            )
        target, convert = _OPTIONS[key]
        try:
            options[target] = convert(value)
        except ValueError:
            raise ConfigurationError(
                f"llamacpp option '{key}' has the value {value!r}, which is not a valid "
                f"{getattr(convert, '__name__', 'value')}."
            ) from None
    return name.strip(), options


def from_spec(rest: str, settings: Any = None) -> LlamaCppLLM:
    """Build the connector for ``llamacpp:<rest>`` (see the module docstring)."""
    name, options = parse_spec(rest)
    home = Path(getattr(settings, "home", None) or Path.home() / ".sapient")
    return LlamaCppLLM(resolve_model_path(name, home), **options)


@hookimpl
def register_llms(register: Any) -> None:
    register(
        "llamacpp",
        from_spec,
        help="local GGUF model in-process: llamacpp:default (bundled Gemma 3 270M) or "
        "llamacpp:/path/model.gguf, options ?n_ctx=4096&threads=2",
    )
