"""How well a sentence answers a question: embedding similarity and lexical coverage.

``score = (cosine(question, sentence) + coverage) / 2``, both in [0, 1], ranks the
sentences; whether the best one answers at all is judged on its ``confidence``, which
weighs the cosine more (see :attr:`Scored.confidence`):

* the cosine of the two sentence embeddings (the host's embedder, all-MiniLM-L6-v2 by
  default) measures what the sentence is about;
* coverage is the share of the question's content terms (stemmed, idf-weighted over
  the candidate sentences, so a rare name counts more than a common word) that the
  sentence contains: an answer repeats what the question asks about.

Each alone picks a sentence holding the answer for 68-71% of the answerable SQuAD 2.0
questions of the Normans article; their mean for 78% (``benchmarks/grounded_qa.py``).
The question's type (how long, how many, when) is a requirement, not a weight: when
some candidate holds a duration, number or date the question asks for, only such
sentences are chosen from. Without an embedder (the extra not installed) the score
is coverage alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._text import has_answer_type, question_type, terms

__all__ = ["Candidate", "Scored", "SentenceScorer", "TYPED"]

#: Question types whose answer has a recognisable form (a duration, number or date).
TYPED = ("duration", "number", "time")
#: Sentence embeddings kept per embedder (oldest dropped first).
CACHE_SIZE = 20_000
_CACHE: dict[int, dict[str, Any]] = {}


@dataclass(frozen=True)
class Candidate:
    """A sentence of the evidence and the id of the passage it comes from."""

    text: str
    source_id: str
    position: int = 0  # order in the evidence (passage rank, then sentence)
    #: what the sentence is read under: its passage's heading path or title. Its words
    #: count as covered ("The company was founded in 2016" under "Lumora Labs: company
    #: overview" answers "Who founded Lumora Labs?"), but it is not embedded: the
    #: sentence's own meaning decides its similarity.
    context: str = ""


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    dense: float
    coverage: float
    typed: bool

    @property
    def confidence(self) -> float:
        """How surely the sentence answers (compared with the answer threshold): the
        mean of the score and the embedding similarity, so similarity weighs three
        quarters and word coverage one quarter.

        Coverage is right for *choosing* among sentences of the evidence, but a poor
        sign that the evidence answers at all: questions written to look answerable
        reuse the passage's words. On SQuAD 2.0's Normans article, coverage of the best
        sentence separates answerable from unanswerable questions no better than chance
        (AUC 0.50) while similarity does somewhat (0.58); on the other dev article
        coverage is even inverted (0.33 against 0.60).
        """
        if math.isnan(self.dense):
            return self.score
        return (max(self.dense, 0.0) + self.score) / 2


class SentenceScorer:
    """Scores candidate sentences against a question (see the module docstring).

    Args:
        embedder: an object with ``embed(list[str]) -> array`` of unit rows, or None.
    """

    def __init__(self, embedder: Any = None) -> None:
        self.embedder = embedder

    def _vectors(self, texts: Sequence[str]) -> list[Any]:
        """Embeddings, from the cache when the same sentence was scored before (the
        passages of one index recur across questions)."""
        cache = _CACHE.setdefault(id(self.embedder), {})
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                if len(cache) >= CACHE_SIZE:
                    cache.pop(next(iter(cache)))
                cache[text] = vector
        return [cache[t] for t in texts]

    def _dense(self, question: str, texts: Sequence[str]) -> list[float]:
        if self.embedder is None or not texts:
            return [math.nan] * len(texts)
        q, *rows = self._vectors([question, *texts])
        return [float(v @ q) for v in rows]

    @staticmethod
    def _coverage(question: str, texts: Sequence[str],
                  contexts: Sequence[str] | None = None) -> list[float]:
        asked = list(dict.fromkeys(terms(question)))
        bags = [set(terms(t)) for t in texts]
        for bag, context in zip(bags, contexts or (), strict=False):
            bag.update(terms(context))
        df = Counter(t for bag in bags for t in bag)
        n = len(bags)
        idf = {t: math.log(1 + (n + 1) / (1 + df.get(t, 0))) for t in asked}
        total = sum(idf.values())
        if not total:
            return [0.0] * n
        return [sum(idf[t] for t in asked if t in bag) / total for bag in bags]

    def score(self, question: str, candidates: Sequence[Candidate]) -> list[Scored]:
        """Every candidate with its score, best first (ties keep evidence order)."""
        texts = [c.text for c in candidates]
        dense = self._dense(question, texts)
        coverage = self._coverage(question, texts, [c.context for c in candidates])
        qtype = question_type(question)
        out = []
        for c, d, cov in zip(candidates, dense, coverage, strict=True):
            value = cov if math.isnan(d) else (max(d, 0.0) + cov) / 2
            typed = qtype not in TYPED or has_answer_type(c.text, qtype, question)
            out.append(Scored(c, value, d, cov, typed))
        if any(s.typed for s in out):
            out = [s for s in out if s.typed]
        return sorted(out, key=lambda s: (-s.score, s.candidate.position))
