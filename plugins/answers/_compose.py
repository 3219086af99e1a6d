"""An answer composed from the evidence of a run, for models that cannot write one.

Every word of a composed answer is either a sentence of the evidence, with its
citation, or a fixed phrase of this module that says what the evidence is (a graph
path, an interval) or that there is none. Model text is never part of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sapient import Citation

from ._evidence import Evidence, kind_of
from ._facts import anchor_of, graph_answer, interval_answer, named_in
from ._scorer import Candidate, Scored, SentenceScorer
from ._text import split_sentences, unstated

__all__ = ["Composed", "compose", "ABSTAIN", "MAX_WORDS", "DEFAULT_MIN_SCORE"]

#: How every abstention begins (what users and benchmarks recognise).
ABSTAIN = "No sufficient evidence"
#: Longest answer: enough for two sentences, too short to paste the evidence.
MAX_WORDS = 50
#: Least confidence (see ``_scorer.Scored.confidence``) of a sentence that answers.
#: Chosen on the Normans article of SQuAD 2.0 where the answered-and-cited share of its
#: answerable questions equals the abstained share of its unanswerable ones (0.52 and
#: 0.51, with the ``unstated`` check), and reported unchanged on the others
#: (``benchmarks/grounded_qa.py``).
DEFAULT_MIN_SCORE = 0.51


@dataclass
class Composed:
    """A composed answer and why it says what it says."""

    text: str
    abstained: bool
    kind: str
    score: float | None = None
    sources: list[str] = field(default_factory=list)
    #: for passages: the best and the runner-up sentence as (text, source id, confidence)
    ranked: list[tuple[str, str, float]] = field(default_factory=list)
    #: for passages: what the question states that the best sentence does not (a name,
    #: a number, a negation; see ``_text.unstated``), which makes the answer abstain
    unstated: str | None = None


def _abstain(reason: str, kind: str, score: float | None = None) -> Composed:
    return Composed(f"{ABSTAIN}: {reason}", True, kind, score)


def _words(text: str) -> int:
    return len(text.split())


def _heading(citation: Citation) -> str:
    """What a passage's sentences are read under: its title and heading path."""
    return " ".join(str(citation.metadata.get(k) or "") for k in ("title", "section")).strip()


def _context(citation: Citation) -> str:
    """A passage with what names it (a section chunk may not repeat its document's
    title: "Power and connectivity" belongs to "Aurora X2 specifications")."""
    return " ".join([_heading(citation), str(citation.metadata.get("source") or ""),
                     citation.text])


def _passages(question: str, evidence: Sequence[Evidence], scorer: SentenceScorer,
              min_score: float) -> Composed:
    """The best sentence (and the runner-up when both fit in ``MAX_WORDS``), cited."""
    candidates: list[Candidate] = []
    cited: dict[str, Citation] = {}
    for e in evidence:
        for c in e.citations:
            if kind_of(c) == "passage":
                cited.setdefault(c.source_id, c)
                heading = _heading(c)
                candidates += [Candidate(s, c.source_id, len(candidates) + i, heading)
                               for i, s in enumerate(split_sentences(c.text, headings=False))]
    ranked = scorer.score(question, candidates)
    top = [(s.candidate.text, s.candidate.source_id, s.confidence) for s in ranked[:2]]
    missing = unstated(question, ranked[0].candidate.text,
                       _context(cited[ranked[0].candidate.source_id])) if ranked else None
    if missing:
        out = _abstain(f"the passage that matches best does not state {missing} of the "
                       "question.", "passage", ranked[0].confidence)
        out.ranked, out.unstated = top, missing
        return out
    if not ranked or ranked[0].confidence < min_score:
        best = ranked[0].confidence if ranked else None
        out = _abstain("none of the passages found answers this question.", "passage", best)
        out.ranked = top
        return out
    chosen: list[Scored] = [ranked[0]]
    if len(ranked) > 1 and ranked[1].confidence >= min_score and \
            ranked[1].candidate.text != ranked[0].candidate.text and \
            _words(ranked[0].candidate.text) + _words(ranked[1].candidate.text) <= MAX_WORDS:
        chosen.append(ranked[1])
    chosen.sort(key=lambda s: s.candidate.position)
    text = " ".join(f"{_cut(s.candidate.text, MAX_WORDS)} [{s.candidate.source_id}]"
                    for s in chosen)
    return Composed(text, False, "passage", ranked[0].confidence,
                    list(dict.fromkeys(s.candidate.source_id for s in chosen)), top)


def _cut(sentence: str, limit: int) -> str:
    """At most ``limit`` words; a passage that starts mid-sentence is marked "…"."""
    words = sentence.split()
    text = sentence if len(words) <= limit else " ".join(words[:limit]) + " …"
    return "… " + text if text[:1].islower() else text


def _call(e: Evidence) -> str:
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in e.arguments.items())
    return f"{e.tool}({args})"


def _result_text(e: Evidence) -> str:
    """A tool's plain result; a JSON object's own summary when it has one."""
    try:
        data = json.loads(e.text)
    except (json.JSONDecodeError, TypeError):
        return e.text.strip()
    if isinstance(data, dict):
        for key in ("summary", "answer", "text", "message"):
            if isinstance(data.get(key), str):
                return data[key].strip()
    return e.text.strip()


def _result(question: str, e: Evidence, scorer: SentenceScorer) -> Composed:
    """A function's result answers the call that was made: state call and result."""
    text = _result_text(e)
    if _words(text) > MAX_WORDS:  # keep the sentences that bear on the question
        candidates = [Candidate(s, e.tool, i) for i, s in enumerate(split_sentences(text))]
        kept, total = [], 0
        for s in scorer.score(question, candidates):
            if total + _words(s.candidate.text) <= MAX_WORDS - 8:
                kept.append(s)
                total += _words(s.candidate.text)
        text = " ".join(s.candidate.text for s in sorted(kept, key=lambda s: s.candidate.position))
    return Composed(f"{_call(e)} returned: {_cut(text, MAX_WORDS - 8)} [{e.tool}]", False,
                    "result", None, [e.tool])


def compose(question: str, evidence: Sequence[Evidence], scorer: SentenceScorer,
            min_score: float = DEFAULT_MIN_SCORE) -> Composed:
    """The answer to ``question`` from ``evidence`` (see the module docstring)."""
    usable = [e for e in evidence if e.error is None]
    cited = [c for e in usable for c in e.citations]
    kinds = {kind_of(c) for c in cited}
    if "fact" in kinds:
        facts = [c for c in cited if kind_of(c) == "fact" and named_in(anchor_of(c), question)]
        if not facts:
            return _abstain("the knowledge graph has no entity this question names.", "fact")
        return Composed(graph_answer(facts), False, "fact", facts[0].score,
                        [c.source_id for c in facts])
    if "interval" in kinds:
        spans = [c for c in cited if kind_of(c) == "interval"]
        return Composed(interval_answer(spans), False, "interval", None,
                        [c.source_id for c in spans])
    if "passage" in kinds:
        return _passages(question, usable, scorer, min_score)
    plain = [e for e in usable if not e.citations and not e.abstained]
    if plain:
        return _result(question, plain[-1], scorer)
    if usable:
        return _abstain(f"{usable[-1].tool} found nothing that answers this question.",
                        "none")
    failed = evidence[-1] if evidence else None
    reason = f"{failed.tool} failed ({failed.error})." if failed else "no tool was called."
    return _abstain(reason, "error")
