"""Tool calling on BFCL: plain prompting vs a native handler vs Sapient's constrained calls.

Runs the Berkeley Function Calling Leaderboard categories ``simple_python`` and
``multiple`` with one model in three modes, side by side, question by question:

``plain``
    The tools and the reply format go into the prompt (the same text the
    constrained mode uses); the model writes freely and the first JSON object in
    its reply is parsed as the call.
``handler``
    The backend's own tool calling. For a llama.cpp model that is
    llama-cpp-python's ``chatml-function-calling`` chat handler (tools passed as
    OpenAI specs, ``tool_choice="auto"``, and a one-line system message, without
    which that handler's template shows no functions); for an OpenAI-compatible
    server it is the server's native ``tools`` support, without Sapient's shims.
``constrained``
    Sapient's connector with ``tool_choice="required"``: for llama.cpp the tool is
    chosen by likelihood (the one under which the model finds the request most
    probable) and the arguments are written under a grammar made from the tool's
    JSON schema; for OpenAI-compatible servers the connector's shims (capability
    probe, forced-call fallback, strict leak recovery).

Scoring follows BFCL's AST checker: the function name must match and every
argument must be one of the gold's acceptable values (strings compared after BFCL's
normalisation: lower case, without spaces and ``,./-_*^``; floats accept integers;
an optional argument may be left out when the gold lists ``""``). A response is
*valid* when it is one call to a given function whose arguments validate against
the function's JSON schema. ``invalid_flagged`` counts the invalid calls that the
connector itself reported (``raw["argument_problems"]``): for the constrained mode it
should equal the number of invalid calls, since none may be passed on as valid.

Usage::

    python benchmarks/tool_calling.py --limit 50
    python benchmarks/tool_calling.py --llm 'openai:http://127.0.0.1:11434/v1#llama3.1'
    python benchmarks/tool_calling.py --data DIR --json   # ends with one JSON line
    # one slice per core, then one table for both:
    python benchmarks/tool_calling.py --limit 300 --categories simple_python --dump a.jsonl &
    python benchmarks/tool_calling.py --offset 300 --dump b.jsonl ... &
    python benchmarks/tool_calling.py --report a.jsonl b.jsonl --json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sapient import Host, Message, Settings, Tool, ToolArgumentError
from sapient.connectors.llamacpp import LlamaCppLLM
from sapient.connectors.llamacpp._prompt import render_tools

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bfcl"
CATEGORIES = ("simple_python", "multiple")
MODES = ("plain", "handler", "constrained")


# -- data ----------------------------------------------------------------------------


def load_category(data: Path, category: str, limit: int | None,
                  offset: int = 0) -> list[dict[str, Any]]:
    """Questions of one BFCL category joined with their gold answers.

    ``offset`` skips that many questions first, so a slice used to tune prompts can
    be kept apart from the slice that is reported.
    """
    qfile = data / f"BFCL_v4_{category}.json"
    afile = data / "possible_answer" / f"BFCL_v4_{category}.json"
    if not qfile.exists() or not afile.exists():
        sys.exit(f"BFCL files for '{category}' not found under {data} (expected {qfile.name} "
                 f"and possible_answer/{afile.name}). Pass --data DIR.")
    gold = {}
    for line in afile.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            gold[row["id"]] = row["ground_truth"]
    rows = []
    lines = [line for line in qfile.read_text().splitlines() if line.strip()]
    for line in lines[offset:]:
        row = json.loads(line)
        row["gold"] = gold[row["id"]]
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def make_tools(functions: list[dict[str, Any]]) -> list[Tool]:
    return [Tool.from_json_schema(f["name"], f.get("description", ""), f["parameters"],
                                  lambda **kw: kw) for f in functions]


def question_messages(row: dict[str, Any]) -> list[Message]:
    out = []
    for m in row["question"][0]:
        out.append(Message.system(m["content"]) if m["role"] == "system"
                   else Message.user(m["content"]))
    return out


# -- BFCL scoring -------------------------------------------------------------------------


def _std(s: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _same(value: Any, gold: Any, bfcl_type: str | None) -> bool:
    if isinstance(gold, bool) or isinstance(value, bool):
        return value is gold
    if isinstance(gold, str):
        return isinstance(value, str) and _std(value) == _std(gold)
    if isinstance(gold, (int, float)):
        if not isinstance(value, (int, float)):
            return False
        if bfcl_type == "integer" and not isinstance(value, int):
            return False
        return float(value) == float(gold)
    if isinstance(gold, list):
        return (isinstance(value, list) and len(value) == len(gold)
                and all(_same(v, g, None) for v, g in zip(value, gold, strict=True)))
    if isinstance(gold, dict):
        if not isinstance(value, dict):
            return False
        for key, possibles in gold.items():
            if key not in value:
                if "" not in possibles:
                    return False
            elif not any(_same(value[key], p, None) for p in possibles if p != ""):
                return False
        return set(value) <= set(gold)
    return value == gold


def bfcl_correct(name: str, args: dict[str, Any], row: dict[str, Any]) -> bool:
    """BFCL's AST rule for one call against the gold (simple and multiple: one call)."""
    gold_name, gold_args = next(iter(row["gold"][0].items()))
    if name != gold_name:
        return False
    func = next(f for f in row["function"] if f["name"] == name)
    props = func["parameters"].get("properties", {})
    required = set(func["parameters"].get("required", []))
    if set(args) - set(props):
        return False
    for param, schema in props.items():
        possibles = gold_args.get(param)
        if param not in args:
            if param in required or (possibles is not None and "" not in possibles):
                return False
            continue
        if possibles is None:
            return False
        if not any(_same(args[param], p, schema.get("type")) for p in possibles if p != ""):
            return False
    return True


# -- modes --------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str | None = None
    args: dict[str, Any] | None = None
    seconds: float = 0.0
    tokens: int = 0
    error: str | None = None
    decode_s: float = 0.0
    decode_tokens: int = 0
    #: Problems the connector found in its own call (``raw["argument_problems"]``).
    problems: list[str] | None = None


def _call_args(call: Any) -> dict[str, Any] | None:
    """A call's arguments as a dict, or None when they are not a JSON object."""
    try:
        args = json.loads(call.arguments_json())
    except json.JSONDecodeError:
        return None
    return args if isinstance(args, dict) else None


@dataclass
class Tally:
    n: int = 0
    valid: int = 0
    correct: int = 0
    seconds: list[float] = field(default_factory=list)
    tokens: int = 0
    decode_s: float = 0.0
    decode_tokens: int = 0
    flagged: int = 0

    def add(self, outcome: Outcome, ok_valid: bool, ok_correct: bool) -> None:
        self.n += 1
        self.valid += ok_valid
        self.correct += ok_correct
        self.flagged += bool(outcome.problems) and not ok_valid
        self.seconds.append(outcome.seconds)
        self.tokens += outcome.tokens
        self.decode_s += outcome.decode_s
        self.decode_tokens += outcome.decode_tokens

    def summary(self) -> dict[str, float]:
        total = sum(self.seconds)
        return {
            "valid": round(self.valid / self.n, 4) if self.n else 0.0,
            "accuracy": round(self.correct / self.n, 4) if self.n else 0.0,
            "s_per_call": round(total / self.n, 3) if self.n else 0.0,
            "s_median": round(statistics.median(self.seconds), 3) if self.seconds else 0.0,
            "tokens_per_s": round(self.tokens / total, 1) if total else 0.0,
            "decode_tokens_per_s": (round(self.decode_tokens / self.decode_s, 1)
                                    if self.decode_s else None),
            "invalid_flagged": self.flagged,
        }


def first_call_object(text: str) -> Any:
    """Plain mode's parser: the first JSON object in ``text`` shaped like a call
    (``name`` and ``arguments``), else the first JSON object at all."""
    decoder = json.JSONDecoder()
    first = None
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "name" in value and "arguments" in value:
            return value
        if first is None:
            first = value
    return first


def _timings(out: Outcome, resp: Any) -> None:
    """Pure decoding speed from the llamacpp connector's timings (prompt excluded)."""
    raw = getattr(resp, "raw", None)
    if isinstance(raw, dict) and "timings" in raw:
        out.decode_s = raw["timings"]["decode_s"]
        out.decode_tokens = resp.usage.completion_tokens


def _count_tokens(llm: Any, text: str, usage_tokens: int) -> int:
    if isinstance(llm, LlamaCppLLM) and text:
        return len(llm.llama.tokenize(text.encode(), add_bos=False, special=False))
    return usage_tokens


def run_plain(llm: Any, msgs: list[Message], tools: list[Tool], max_tokens: int) -> Outcome:
    system = Message.system(render_tools(tools, allow_answer=False))
    t0 = time.perf_counter()
    resp = llm.complete([system, *msgs], (), max_tokens=max_tokens, temperature=0)
    out = Outcome(seconds=time.perf_counter() - t0)
    _timings(out, resp)
    text = resp.text or ""
    out.tokens = _count_tokens(llm, text, resp.usage.completion_tokens)
    data = first_call_object(text)
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        out.name = data["name"]
        args = data.get("arguments", data.get("parameters", {}))
        out.args = args if isinstance(args, dict) else None
    return out


def run_handler(llm: Any, msgs: list[Message], tools: list[Tool], max_tokens: int) -> Outcome:
    out = Outcome()
    if isinstance(llm, LlamaCppLLM):
        from llama_cpp.llama_chat_format import get_chat_completion_handler

        handler = get_chat_completion_handler("chatml-function-calling")
        wire = [m.to_openai() for m in msgs]
        if not any(m["role"] == "system" for m in wire):
            # The handler's template lists the functions only inside a system message.
            wire.insert(0, {"role": "system", "content": HANDLER_SYSTEM})
        t0 = time.perf_counter()
        resp = handler(llama=llm.llama, messages=wire,
                       tools=[t.spec() for t in tools], tool_choice="auto", temperature=0,
                       max_tokens=max_tokens)
        out.seconds = time.perf_counter() - t0
        msg = resp["choices"][0]["message"]
        calls = msg.get("tool_calls") or []
        if calls:
            fn = calls[0]["function"]
            out.tokens = _count_tokens(llm, fn["arguments"], 0)
            out.name = fn["name"]
            try:
                args = json.loads(fn["arguments"])
                out.args = args if isinstance(args, dict) else None
            except json.JSONDecodeError:
                out.args = None
        else:
            out.tokens = _count_tokens(llm, msg.get("content") or "", 0)
        return out
    # An OpenAI-compatible server: its native tool calling, without Sapient's shims.
    t0 = time.perf_counter()
    req = llm.build_request(msgs, tools, {"tool_choice": "auto", "max_tokens": max_tokens,
                                          "temperature": 0})
    resp = llm.client.chat.completions.create(**req)
    out.seconds = time.perf_counter() - t0
    parsed = llm.parse_response(resp)
    out.tokens = parsed.usage.completion_tokens
    if parsed.tool_calls:
        call = parsed.tool_calls[0]
        out.name = call.name
        out.args = _call_args(call)
    return out


def run_constrained(llm: Any, msgs: list[Message], tools: list[Tool],
                    max_tokens: int) -> Outcome:
    t0 = time.perf_counter()
    resp = llm.complete(msgs, tools, tool_choice="required", max_tokens=max_tokens,
                        temperature=0)
    out = Outcome(seconds=time.perf_counter() - t0)
    _timings(out, resp)
    if resp.tool_calls:
        call = resp.tool_calls[0]
        out.name = call.name
        out.tokens = _count_tokens(llm, call.arguments_json(), resp.usage.completion_tokens)
        out.args = _call_args(call)
    raw = getattr(resp, "raw", None)
    if isinstance(raw, dict) and raw.get("argument_problems"):
        out.problems = list(raw["argument_problems"])
    return out


#: A neutral system message for the handler mode (see run_handler).
HANDLER_SYSTEM = "You are a helpful assistant. Call a function to answer the user."

RUNNERS = {"plain": run_plain, "handler": run_handler, "constrained": run_constrained}


def judge(outcome: Outcome, tools: list[Tool], row: dict[str, Any]) -> tuple[bool, bool]:
    by_name = {t.name: t for t in tools}
    if outcome.name not in by_name or outcome.args is None:
        return False, False
    try:
        by_name[outcome.name].validate(outcome.args)
    except ToolArgumentError:
        return False, bfcl_correct(outcome.name, outcome.args, row)
    return True, bfcl_correct(outcome.name, outcome.args, row)


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llm", default="llamacpp:default?n_ctx=4096",
                    help="any Sapient LLM spec (default: the bundled Gemma 3 270M)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BFCL folder")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--limit", type=int, default=None,
                    help="questions per category (default: all)")
    ap.add_argument("--offset", type=int, default=0,
                    help="skip this many questions of each category first")
    ap.add_argument("--dump", type=Path, default=None,
                    help="write every answer (JSON lines) to this file for error analysis")
    ap.add_argument("--report", type=Path, nargs="+", default=None, metavar="DUMP",
                    help="print the table of answers saved with --dump (runs nothing)")
    ap.add_argument("--max-tokens", type=int, default=128,
                    help="token budget per reply (plain and constrained)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    ap.add_argument("--quiet", action="store_true", help="no per-question progress")
    args = ap.parse_args(argv)
    if args.report:
        return report_dumps(args.report, args.json)

    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in RUNNERS:
            ap.error(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    llm = Host(Settings.from_env(), load_entrypoints=False).llm(args.llm)
    if isinstance(llm, LlamaCppLLM):
        llm.load()
    tallies = {(c, m): Tally() for c in args.categories.split(",") for m in modes}
    failures: dict[str, int] = {m: 0 for m in modes}
    started = time.perf_counter()
    dump = args.dump.open("w") if args.dump else None
    for category in args.categories.split(","):
        rows = load_category(args.data, category, args.limit, args.offset)
        progress = _progress(len(rows), f"{category}", args.quiet)
        for row in rows:
            tools = make_tools(row["function"])
            msgs = question_messages(row)
            for mode in modes:
                if isinstance(llm, LlamaCppLLM):
                    llm.llama.reset()  # every mode pays for its own prompt evaluation
                t0 = time.perf_counter()
                try:
                    outcome = RUNNERS[mode](llm, msgs, tools, args.max_tokens)
                except Exception as exc:  # a crash counts as an invalid answer, time included
                    failures[mode] += 1
                    outcome = Outcome(error=f"{type(exc).__name__}: {exc}",
                                      seconds=time.perf_counter() - t0)
                valid, correct = judge(outcome, tools, row)
                tallies[(category, mode)].add(outcome, valid, correct)
                if dump is not None:
                    dump.write(json.dumps({
                        "id": row["id"], "category": category, "mode": mode,
                        "name": outcome.name, "args": outcome.args, "valid": valid,
                        "correct": correct, "error": outcome.error,
                        "seconds": outcome.seconds, "tokens": outcome.tokens,
                        "decode_s": outcome.decode_s, "decode_tokens": outcome.decode_tokens,
                        "problems": outcome.problems,
                        "gold": row["gold"], "question": row["question"][0][-1]["content"],
                    }, default=str) + "\n")
            progress.update(1)
        progress.close()
    wall = time.perf_counter() - started
    if dump is not None:
        dump.close()
    if any(failures.values()):  # before the table, so the JSON line stays the last line
        print(f"errors raised (counted invalid): {failures}")
    report(tallies, modes, f"{args.llm} ({wall:.0f} s in all)", args.json, args.llm)
    return 0


def report_dumps(paths: list[Path], as_json: bool) -> int:
    """The table (and JSON line) of answers saved by earlier ``--dump`` runs.

    Slices run as separate processes (``--offset``/``--limit``, one per core) are
    scored together this way; a question answered twice counts once (the last), and
    a question missing from some mode (a run stopped half-way) is left out of all, so
    the modes are compared on the same questions.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        if not path.exists():
            sys.exit(f"No dump file at {path}. Write one with --dump FILE.")
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                latest[(row["id"], row["mode"])] = row
    if not latest:
        sys.exit("The dump files hold no answers.")
    modes = [m for m in MODES if any(k[1] == m for k in latest)]
    ids = {k[0] for k in latest}
    complete = {i for i in ids if all((i, m) in latest for m in modes)}
    if len(complete) < len(ids):
        print(f"{len(ids) - len(complete)} question(s) not answered in every mode are left out.")
    latest = {k: v for k, v in latest.items() if k[0] in complete}
    categories = list(dict.fromkeys(r["category"] for r in latest.values()))
    tallies = {(c, m): Tally() for c in categories for m in modes}
    for row in latest.values():
        outcome = Outcome(seconds=row["seconds"], tokens=row["tokens"],
                          decode_s=row["decode_s"], decode_tokens=row["decode_tokens"],
                          problems=row.get("problems"))
        tallies[(row["category"], row["mode"])].add(outcome, row["valid"], row["correct"])
    report(tallies, modes, f"answers from {len(paths)} dump file(s)", as_json, None)
    return 0


def report(tallies: dict[tuple[str, str], Tally], modes: list[str], title: str,
           as_json: bool, llm: str | None) -> None:
    """Print the per-category table, the time ratio and (optionally) the JSON line."""
    overall = {m: Tally() for m in modes}
    for (_, m), t in tallies.items():
        o = overall[m]
        o.n += t.n
        o.valid += t.valid
        o.correct += t.correct
        o.seconds += t.seconds
        o.tokens += t.tokens
        o.decode_s += t.decode_s
        o.decode_tokens += t.decode_tokens

    print(f"\nBFCL tool calling, {title}\n")
    header = f"{'category':<14} {'mode':<12} {'n':>4} {'valid':>7} {'accuracy':>9} " \
             f"{'s/call':>7} {'median':>7} {'tok/s':>7} {'decode tok/s':>13}"
    print(header)
    print("-" * len(header))
    for (category, mode), t in list(tallies.items()) + [(("all", m), overall[m]) for m in modes]:
        s = t.summary()
        print(f"{category:<14} {mode:<12} {t.n:>4} {s['valid']:>7.1%} {s['accuracy']:>9.1%} "
              f"{s['s_per_call']:>7.2f} {s['s_median']:>7.2f} {s['tokens_per_s']:>7.1f} "
              f"{s['decode_tokens_per_s'] or '-':>13}")
    if "constrained" in overall and "plain" in overall and overall["plain"].seconds:
        ratio = overall["constrained"].summary()["s_per_call"] / \
            max(overall["plain"].summary()["s_per_call"], 1e-9)
        print(f"\nconstrained / plain time per call: {ratio:.2f}x")
    if as_json:
        figures: dict[str, Any] = {
            "modes": {m: overall[m].summary() for m in modes},
            "n": overall[modes[0]].n if modes else 0,
            "by_category": {f"{c}/{m}": t.summary() for (c, m), t in tallies.items()}}
        if llm:
            figures["llm"] = llm
        print(json.dumps(figures))


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, quiet: bool) -> Any:
    if quiet:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoProgress()
    return tqdm(total=total, desc=desc, unit="q", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
