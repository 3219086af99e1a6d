"""Question sets for ``benchmarks/graph.py``: loading, made-up entities, scoring.

A question set is a knowledge-base file and a question file with four tab-separated
columns (question, answer, gold path ``#``-joined with the topic entity first, every
acceptable answer ``/``-joined), as in ``../shared/data/kg``.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seed of every sample (``--limit``) and of the made-up names.
SEED = 0


@dataclass(frozen=True)
class Question:
    text: str
    acceptable: frozenset[str]
    entities: tuple[str, ...]  # the topic entities named by the gold path(s)


@dataclass
class QuestionSet:
    kb: Path
    path: Path
    questions: list[Question] = field(default_factory=list)
    total: int = 0

    @property
    def name(self) -> str:
        return self.path.stem


def parse_set(spec: str) -> tuple[Path, Path]:
    """``KB_FILE:QUESTIONS_FILE`` -> two paths (a Windows drive letter is kept)."""
    match = re.match(r"^((?:[A-Za-z]:)?[^:]+):((?:[A-Za-z]:)?[^:]+)$", spec)
    if not match:
        raise ValueError(f"--set {spec!r} is not KB_FILE:QUESTIONS_FILE; give both files "
                         "separated by one colon, e.g. kb.txt:questions.txt.")
    kb, questions = Path(match.group(1)), Path(match.group(2))
    for path in (kb, questions):
        if not path.is_file():
            raise ValueError(f"--set {spec!r}: no such file {path}; check the path.")
    return kb, questions


def default_sets(data: Path) -> list[tuple[Path, Path]]:
    """WorldCup2014 and PathQuestion-Large under ``data`` (or ``data`` = the wc2014 folder)."""
    layouts = [("wc2014/WC2014.txt", ["wc2014/WC-P1.txt", "wc2014/WC-P2.txt", "wc2014/WC-C.txt"]),
               ("WC2014.txt", ["WC-P1.txt", "WC-P2.txt", "WC-C.txt"]),
               ("pql/PQL2-KB.txt", ["pql/PQL-2H.txt"]), ("pql/PQL3-KB.txt", ["pql/PQL-3H.txt"])]
    out = []
    for kb, files in layouts:
        if (data / kb).is_file():
            out += [(data / kb, data / f) for f in files if (data / f).is_file()]
    return out


def load_questions(kb: Path, path: Path, limit: int) -> QuestionSet:
    """Every question of ``path``, or ``limit`` of them sampled with :data:`SEED`."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        acceptable = frozenset({a for a in cols[3].split("/") if a} | {cols[1]})
        entities = tuple(dict.fromkeys(p.split("#")[0] for p in cols[2].split("*") if p))
        rows.append(Question(cols[0], acceptable, entities))
    if not rows:
        raise ValueError(f"{path} has no question lines with four tab-separated columns.")
    total = len(rows)
    if limit and total > limit:
        rows = random.Random(SEED).sample(rows, limit)
    return QuestionSet(kb, path, rows, total)


_ONSETS = ["b", "br", "d", "dr", "f", "g", "gl", "k", "kr", "l", "m", "n", "p", "pl", "r",
           "s", "st", "t", "tr", "v", "z", "zh"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ou"]
_CODAS = ["", "n", "r", "s", "th", "x", "l", "nd"]


def made_up_name(rng: random.Random, known: set[str]) -> str:
    """A pronounceable two-part name that is not a node of the graph."""
    from sapient.plugins.knowledge_graph._ingest import normalize_name

    while True:
        parts = ["".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                         for _ in range(rng.randint(2, 3))).capitalize() for _ in range(2)]
        name = "_".join(parts)
        if normalize_name(name) not in known:
            return name


def made_up_questions(qset: QuestionSet, known: set[str]) -> list[str]:
    """The set's questions with each topic entity replaced by a made-up name."""
    rng = random.Random(SEED)
    out = []
    for q in qset.questions:
        text = q.text
        if not q.entities or not all(e in text for e in q.entities):
            continue
        for entity in q.entities:
            text = text.replace(entity, made_up_name(rng, known))
        out.append(text)
    return out


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def score(retriever: Any, qset: QuestionSet, hops: int, label: str) -> dict[str, float]:
    """Hits@1 (an abstention is a miss), abstention rate and p50 ms per question."""
    from tqdm import tqdm

    ok = abstained = 0
    times = []
    for q in tqdm(qset.questions, desc=f"{qset.name} {label}", leave=False, unit="q"):
        start = time.perf_counter()
        if hasattr(retriever, "ask"):
            result = retriever.ask(q.text, k=1, hops=hops)
            answers, gave_up = result.answers, result.abstained
        else:
            answers, gave_up = retriever.retrieve(q.text, k=1, hops=hops), False
        times.append((time.perf_counter() - start) * 1000)
        abstained += gave_up
        ok += bool(answers) and not gave_up and answers[0].name in q.acceptable
    n = max(1, len(qset.questions))
    return {"hits1": round(ok / n, 4), "abstained": round(abstained / n, 4),
            "p50_ms": round(median(times), 1)}


def abstention(retriever: Any, questions: list[str], hops: int) -> float:
    """Share of questions answered "no confident answer"."""
    if not questions:
        return float("nan")
    gave_up = sum(retriever.ask(q, k=1, hops=hops).abstained for q in questions)
    return round(gave_up / len(questions), 4)
