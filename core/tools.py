"""Tools: plain typed Python functions the model can call.

``@tool`` reads everything it needs from the function itself: the name from
``__name__``, the description from the docstring, per-argument descriptions from the
docstring's Google-style ``Args:`` section, and the JSON schema from the type hints
(through pydantic). Arguments coming from the model are validated before the call:
invalid ones never reach the function, and the model gets a precise message back.

``Tool.from_json_schema`` covers tools whose schema comes from elsewhere (MCP
servers, OpenAI function specs, BFCL); those are validated with ``jsonschema``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import enum
import inspect
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .errors import ToolArgumentError, ToolDefinitionError, ToolTimeoutError
from .messages import ToolOutput

__all__ = ["Tool", "tool", "serialize_result", "to_jsonable", "parse_docstring"]

_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$")
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description}).

    The description is everything before the first section header (``Args:``,
    ``Returns:``, ...). Continuation lines of an argument are joined to it.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        if _ARGS_HEADER.match(line):
            section, current, arg_indent = "args", None, None
            continue
        if _SECTION_HEADER.match(line) and not line.startswith((" ", "\t")):
            section, current = "other", None
            continue
        if section is None:
            desc.append(line)
        elif section == "args":
            if not line.strip():
                current = None
                continue
            indent = len(line) - len(line.lstrip())
            m = _ARG_LINE.match(line)
            if m and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = m.group(1)
                args[current] = m.group(3).strip()
            elif current is not None:
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(desc).strip(), args


def serialize_result(value: Any) -> str:
    """Turn a tool's return value into the text the model sees, deterministically.

    Strings pass through; pydantic models, dataclasses, dicts and lists become JSON
    with sorted keys; ``None`` becomes ``"null"``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, ToolOutput):
        return serialize_result(value.content)
    return json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True)


def to_jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value``: what ``json.dumps`` writes without a ``default``.

    Pydantic models, dataclasses, enums, numpy arrays and scalars become their JSON
    form; dict keys become strings; floats that JSON cannot hold (NaN, infinities)
    and unknown objects become their ``str``.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return to_jsonable(value.tolist())
    return str(value)


def _normalize_schema(schema: Any) -> Any:
    """Map common non-standard JSON-schema dialects (BFCL, Gorilla) to standard ones.

    ``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``,
    ``any`` -> no type constraint. Objects without ``additionalProperties`` get
    ``false`` at the top level, so unknown arguments are rejected.
    """
    if isinstance(schema, list):
        return [_normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _normalize_schema(v) for k, v in schema.items()}
    mapping = {"dict": "object", "float": "number", "tuple": "array", "list": "array",
               "str": "string", "int": "integer", "bool": "boolean"}
    t = out.get("type")
    if isinstance(t, str):
        if t == "any":
            out.pop("type")
        elif t in mapping:
            out["type"] = mapping[t]
    elif isinstance(t, list):
        out["type"] = [mapping.get(x, x) for x in t if x != "any"] or None
        if out["type"] is None:
            out.pop("type")
    if "properties" in out and isinstance(out["properties"], dict):
        out["properties"] = {k: _normalize_schema(v) for k, v in schema["properties"].items()}
    return out


@dataclass
class Tool:
    """A callable the model may use, with its name, description and JSON schema.

    Build one with :func:`tool` (from a typed function) or
    :meth:`Tool.from_json_schema`. ``validate`` checks model-supplied arguments;
    ``invoke`` runs the function with validated arguments, within its timeout.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    timeout: float | None = None
    source: str | None = None
    is_async: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    #: What the tool touches (see :mod:`sapient.core.effects`); ``None``: not declared,
    #: which the default policy treats as "side effects unknown".
    effects: frozenset[str] | None = None
    _model: type[BaseModel] | None = field(default=None, repr=False)
    _validator: Any = field(default=None, repr=False)
    _takes_kwargs_dict: bool = field(default=False, repr=False)

    # -- construction ------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """Build a tool from a typed function (see module docstring)."""
        tool_name = name or getattr(fn, "__name__", None)
        if not tool_name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}", tool_name):
            raise ToolDefinitionError(
                f"Tool name {tool_name!r} is not valid: use letters, digits, '_', '-' or '.' "
                "(at most 64 characters), e.g. pass name='my_tool'.",
                tool=str(tool_name),
            )
        doc_desc, arg_docs = parse_docstring(inspect.getdoc(fn))
        model = _arguments_model(tool_name, _fields_of(fn, tool_name, arg_docs))
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        schema.setdefault("properties", {})
        return cls(
            name=tool_name,
            description=description or doc_desc or tool_name,
            parameters=schema,
            function=fn,
            timeout=timeout,
            is_async=inspect.iscoroutinefunction(fn),
            _model=model,
        )

    @classmethod
    def from_json_schema(
        cls,
        name: str,
        description: str,
        parameters: dict[str, Any],
        fn: Callable[..., Any],
        *,
        timeout: float | None = None,
        pass_arguments_as_dict: bool = False,
    ) -> Tool:
        """Build a tool whose argument schema comes from elsewhere (MCP, OpenAI specs).

        Args:
            name: the tool name the model will use.
            description: what the tool does, for the model.
            parameters: a JSON schema of type object. BFCL-style types (``dict``,
                ``float``, ``tuple``, ``any``) are accepted and normalised.
            fn: called with the validated arguments as keyword arguments, or as one
                dict when ``pass_arguments_as_dict`` is true.
            timeout: seconds before the call is abandoned.
        """
        import jsonschema

        if not isinstance(parameters, dict):
            raise ToolDefinitionError(
                f"Parameters of tool '{name}' must be a JSON schema object, got "
                f"{type(parameters).__name__}.",
                tool=name,
            )
        schema = _normalize_schema(parameters)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        schema.setdefault("additionalProperties", False)
        if schema.get("type") != "object":
            raise ToolDefinitionError(
                f"Parameters of tool '{name}' must describe an object (type 'object'), got "
                f"type {schema.get('type')!r}.",
                tool=name,
            )
        try:
            validator_cls = jsonschema.validators.validator_for(
                schema, default=jsonschema.Draft202012Validator
            )
            validator_cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ToolDefinitionError(
                f"The JSON schema of tool '{name}' is invalid: {exc.message} "
                f"(at {'/'.join(map(str, exc.path)) or 'the root'}).",
                tool=name,
            ) from exc
        return cls(
            name=name,
            description=description,
            parameters=schema,
            function=fn,
            timeout=timeout,
            is_async=inspect.iscoroutinefunction(fn),
            _validator=validator_cls(schema),
            _takes_kwargs_dict=pass_arguments_as_dict,
        )

    # -- use ---------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """The OpenAI ``tools=[...]`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validate(self, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        """Parse and validate model-supplied arguments.

        Returns the arguments ready for the function (pydantic-coerced values for
        typed tools). Raises :class:`ToolArgumentError` listing every problem.
        """
        try:
            return self._validate(arguments)
        except RecursionError:
            raise ToolArgumentError(
                self.name, ["arguments nest too deeply to read; send a flatter JSON object"]
            ) from None

    def _validate(self, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        if arguments is None or arguments == "":
            args: Any = {}
        elif isinstance(arguments, str):
            try:
                args = json.loads(arguments)
            except json.JSONDecodeError as exc:
                raise ToolArgumentError(
                    self.name,
                    [f"arguments are not valid JSON ({exc.msg} at position {exc.pos}); "
                     "send a JSON object such as {\"name\": \"value\"}"],
                ) from None
        else:
            args = arguments
        if not isinstance(args, dict):
            raise ToolArgumentError(
                self.name, [f"arguments must be a JSON object, got {type(args).__name__}"]
            )
        if self._model is not None:
            try:
                parsed = self._model.model_validate(args)
            except pydantic.ValidationError as exc:
                raise ToolArgumentError(self.name, _pydantic_problems(exc)) from None
            return {k: getattr(parsed, k) for k in self._model.model_fields}
        if self._validator is not None:
            errors = sorted(self._validator.iter_errors(args), key=lambda e: list(e.path))
            if errors:
                raise ToolArgumentError(self.name, [_jsonschema_problem(e) for e in errors])
        return dict(args)

    def _call_args(self, args: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._takes_kwargs_dict:
            return (args,), {}
        return (), args

    def invoke(self, arguments: dict[str, Any], *,
               loop: asyncio.AbstractEventLoop | None = None) -> Any:
        """Call the function with *validated* arguments, within the tool's ``timeout``.

        The one way a tool's function is run: the agent's built-in ``call_tool`` calls
        it (inside the hook wrappers), and so may Python code using a tool directly
        (no hooks then). Blocking; an async tool runs on ``loop`` when that loop is
        running (the agent passes the run's), else on a fresh one. A timeout raises
        :class:`ToolTimeoutError`: an async tool is cancelled; a sync function cannot
        be interrupted, so its result is abandoned.
        """
        args, kwargs = self._call_args(arguments)
        if self.is_async:
            return self._invoke_async(self.function(*args, **kwargs), loop)
        if self.timeout is None:
            return self.function(*args, **kwargs)
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = executor.submit(self.function, *args, **kwargs)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise ToolTimeoutError(self.name, self.timeout) from None
        finally:
            executor.shutdown(wait=False)

    def _invoke_async(self, coro: Any, loop: asyncio.AbstractEventLoop | None) -> Any:
        if self.timeout is not None:
            coro = asyncio.wait_for(coro, self.timeout)
        try:
            if loop is not None and loop.is_running():
                return asyncio.run_coroutine_threadsafe(coro, loop).result()
            return asyncio.run(coro)
        except TimeoutError:
            if self.timeout is None:  # the tool's own timeout error, not ours
                raise
            raise ToolTimeoutError(self.name, self.timeout) from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A tool stays callable like the function it wraps."""
        return self.function(*args, **kwargs)


def _fields_of(fn: Callable[..., Any], tool_name: str,
               arg_docs: dict[str, str]) -> dict[str, Any]:
    """Pydantic field definitions for the parameters of ``fn``: type hint, default and
    the docstring's description of each."""
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(
            f"Cannot read the type hints of tool '{tool_name}': {exc}. "
            "Make sure every annotation names a type importable in the function's module.",
            tool=tool_name,
        ) from exc
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"Tool '{tool_name}' takes *{pname}: tools need named, typed parameters "
                "so the model knows what to send.",
                tool=tool_name,
            )
        if pname not in hints:
            raise ToolDefinitionError(
                f"Parameter '{pname}' of tool '{tool_name}' has no type hint. "
                f"Annotate it, e.g. `{pname}: str`.",
                tool=tool_name,
            )
        default = ... if param.default is param.empty else param.default
        # Only pass a docstring description: ``description=None`` would wipe one
        # given through ``Annotated[..., Field(description=...)]``.
        doc = {"description": arg_docs[pname]} if arg_docs.get(pname) else {}
        fields[pname] = (hints[pname], Field(default, **doc))
    return fields


def _arguments_model(tool_name: str, fields: dict[str, Any]) -> type[BaseModel]:
    """The pydantic model that validates a tool's arguments (unknown ones refused);
    a parameter type with no JSON form is named in the error."""
    try:
        model = pydantic.create_model(  # type: ignore[call-overload]
            f"{tool_name}_args",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
        model.model_json_schema()
    except Exception as exc:
        culprit = _unsupported_parameter(fields)
        where = f"parameter '{culprit[0]}' ({culprit[1]})" if culprit else "its parameters"
        reason = str(exc).strip().splitlines()[0].split(". ")[0].rstrip(".")
        raise ToolDefinitionError(
            f"Cannot build a JSON schema for tool '{tool_name}': {where} has no JSON "
            f"form ({reason}). Use JSON-friendly types: str, int, float, bool, Literal, "
            "Enum, lists, dicts with str keys, Optional and pydantic models.",
            tool=tool_name,
        ) from exc
    return model  # type: ignore[no-any-return]


def _unsupported_parameter(fields: dict[str, Any]) -> tuple[str, str] | None:
    """The first parameter whose type pydantic cannot turn into a JSON schema."""
    for pname, (hint, _) in fields.items():
        try:
            pydantic.TypeAdapter(hint).json_schema()
        except Exception:
            return pname, getattr(hint, "__name__", None) or repr(hint)
    return None


def _pydantic_problems(exc: pydantic.ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        kind = err["type"]
        if kind == "missing":
            problems.append(f"'{loc}' is required but missing")
        elif kind == "extra_forbidden":
            problems.append(f"'{loc}' is not a parameter of this tool; remove it")
        else:
            problems.append(f"'{loc}': {err['msg']} (got {err.get('input')!r})")
    return problems


def _jsonschema_problem(err: Any) -> str:
    loc = ".".join(str(p) for p in err.absolute_path) or "(arguments)"
    if err.validator == "required":
        return f"{err.message} (in {loc})" if loc != "(arguments)" else err.message
    if err.validator == "additionalProperties":
        return f"{err.message}; remove the unknown argument(s)"
    return f"'{loc}': {err.message}"


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    effects: Any = None,
) -> Any:
    """Decorator: turn a typed function (sync or async) into a :class:`Tool`.

    Usable bare (``@tool``) or with options (``@tool(name="lookup", timeout=5)``).
    ``effects`` declares what the tool touches (``[]`` for none, or names from
    :mod:`sapient.core.effects` such as ``"writes"``); left out, the side effects are
    unknown and the default policy asks for approval before each call.
    Schema problems raise :class:`ToolDefinitionError` here, at definition time.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        t = Tool.from_function(f, name=name, description=description, timeout=timeout)
        if effects is not None:
            from .effects import declare

            t.effects = declare(effects)
        return t

    return wrap(fn) if fn is not None else wrap
