"""Overlapping-segment scoring, as Orion and SigLLM score NAB.

Rules (Orion ``contextual_confusion_matrix`` with the overlap-segment method,
i.e. ``weighted=False``):

* a ground-truth window is a **true positive** when at least one detected interval
  overlaps it, otherwise a **false negative**;
* a detected interval that overlaps no ground-truth window is a **false positive**
  (one per interval, however long);
* Orion pads every interval's end by one unit and then requires a strict overlap,
  which for whole-number positions or timestamps means closed intervals that share
  at least one point overlap. That is what :func:`overlaps` implements.

For a benchmark folder, tp/fp/fn are summed over its series and precision, recall
and F1 computed from the sums; the headline is the unweighted mean over folders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Counts", "overlaps", "overlap_counts", "precision_recall_f1", "mean_f1"]


@dataclass
class Counts:
    """True positives, false positives and false negatives; add them with ``+``."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def overlaps(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether closed intervals ``a=(start, end)`` and ``b`` share at least one point."""
    return a[0] <= b[1] and b[0] <= a[1]


def overlap_counts(expected: Iterable[Sequence[Any]], detected: Iterable[Sequence[Any]]) -> Counts:
    """tp/fp/fn of one series under the overlapping-segment rule.

    Args:
        expected: ground-truth ``(start, end)`` windows (numbers or timestamps).
        detected: detected ``(start, end)`` intervals, comparable with ``expected``.
    """
    truth = [tuple(w[:2]) for w in expected]
    found = [tuple(d[:2]) for d in detected]
    for start, end in truth + found:
        if end < start:
            raise ValueError(f"Interval ({start}, {end}) ends before it starts.")
    tp = sum(1 for w in truth if any(overlaps(w, d) for d in found))
    fp = sum(1 for d in found if not any(overlaps(w, d) for w in truth))
    return Counts(tp=tp, fp=fp, fn=len(truth) - tp)


def precision_recall_f1(counts: Counts) -> tuple[float, float, float]:
    """Precision, recall and F1 from summed counts (0 where undefined)."""
    return counts.precision, counts.recall, counts.f1


def mean_f1(per_folder: dict[str, Counts]) -> float:
    """Unweighted mean of the per-folder F1 scores."""
    if not per_folder:
        return 0.0
    return sum(c.f1 for c in per_folder.values()) / len(per_folder)
