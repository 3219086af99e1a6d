"""The grounding check of answers a capable model wrote: which sentences no cited
passage supports.

A sentence of the answer is supported when some sentence of the evidence would
answer it as well as a composed answer must answer a question: the same scorer,
with the answer's sentence in the question's place, and the same threshold. Short
sentences (under three content words: "Yes.", "Here is what I found:") and
sentences that say there is no evidence are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._compose import ABSTAIN
from ._evidence import Evidence
from ._scorer import Candidate, SentenceScorer
from ._text import split_sentences, terms

__all__ = ["Grounding", "check", "MARK"]

#: Appended to a sentence that no cited passage supports.
MARK = "[unsupported]"
_NO_EVIDENCE = ("no sufficient evidence", "do not know", "don't know", "not enough information")


@dataclass
class Grounding:
    """The answer with unsupported sentences marked, and which ones they were."""

    text: str
    unsupported: list[str]
    checked: int


def _evidence_sentences(evidence: Sequence[Evidence]) -> list[Candidate]:
    out: list[Candidate] = []
    for e in evidence:
        if e.error is not None:
            continue
        sources = [(c.text, c.source_id) for c in e.citations] or [(e.text, e.tool)]
        for text, source in sources:
            out += [Candidate(s, source, len(out) + i)
                    for i, s in enumerate(split_sentences(text or ""))]
    return out


def _checkable(sentence: str) -> bool:
    low = sentence.lower()
    return len(set(terms(sentence))) >= 3 and not any(p in low for p in _NO_EVIDENCE) \
        and not low.startswith(ABSTAIN.lower())


def check(answer: str, evidence: Sequence[Evidence], scorer: SentenceScorer,
          min_score: float) -> Grounding:
    """Mark the answer's sentences that no evidence sentence supports."""
    pool = _evidence_sentences(evidence)
    if not pool:
        return Grounding(answer, [], 0)
    out, unsupported, checked = [], [], 0
    for sentence in split_sentences(answer):
        if _checkable(sentence):
            checked += 1
            ranked = scorer.score(sentence, pool)
            if not ranked or ranked[0].score < min_score:
                unsupported.append(sentence)
                out.append(f"{sentence} {MARK}")
                continue
        out.append(sentence)
    if not unsupported:
        return Grounding(answer, [], checked)
    return Grounding(" ".join(out), unsupported, checked)
