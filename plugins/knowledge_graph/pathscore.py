"""How well a relation path explains a question: relation words and a coverage score.

A question such as "what is the nationality of X 's dad ?" asks for a chain of
relations; a path ``X -[parents]-> Y -[nationality]-> Z`` answers it when every hop
stands for a different part of the question and every relational word of the
question is accounted for by some hop. The score is that idea, measured:

* the question's content words (its entity mention, function words and punctuation
  removed) and each hop's relation words are embedded;
* each question word is matched to at most one *slot* of a hop (a hop has as many
  slots as its relation name has content words, so ``cause_of_death`` may explain
  "reason" and "death", while ``parents`` explains one "parents" of
  "X 's parents 's parents"); the best one-to-one matching is found with the
  Hungarian method (``scipy.optimize.linear_sum_assignment``);
* *recall* is the share of the question explained (matched similarity summed over
  question words, divided by their number); *precision* is the share of the path's
  slots that are explained, where a first hop's words for the end at the question's
  own entity are explained by its mention (``plays_in_club`` walked back from a club
  needs no question word for "club"), as long as the hop explains one word of the
  question itself;
* the score is their harmonic mean (F1), as BERTScore does for token alignments.

A path that is too short leaves question words unexplained (low recall); a path that
is too long has a hop that stands for nothing (low precision). No preference for a
number of hops is built in.

Relation names are first turned into words whatever their style:
``plays_in_club``, ``placeOfBirth``, ``PLACE_OF_BIRTH``, ``people.person.place_of_birth``,
``__people__person__place_of_birth`` and ``http://dbpedia.org/ontology/birthPlace``
all become plain lower-case words of their last segment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

__all__ = ["STOP_WORDS", "PathScorer", "QuestionScorer", "HopSpec", "QuestionWords", "corrected",
           "question_words", "relation_roles", "relation_words", "slots"]

#: English function words: they say how the relational words fit together, not which
#: relation is meant, so they are neither explained by a hop nor used to explain one.
STOP_WORDS = frozenset(["a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "into", "onto", "about", "as", "and", "or", "but", "nor", "not", "no", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "has", "have", "had", "having", "can", "could", "will", "would", "shall", "should", "may", "might", "must", "who", "whom", "whose", "what", "which", "where", "when", "why", "how", "that", "this", "these", "those", "there", "here", "it", "its", "it's", "he", "she", "they", "them", "their", "his", "her", "him", "we", "us", "our", "you", "your", "i", "me", "my", "mine", "s", "name", "tell", "give", "list", "show", "find", "please", "one", "ones", "any", "some"])

# What a wh-word asks for, as a relational word, when the question says it no other way:
# the kinds of thing it can name, embedded together ("where" asks for a place of any kind).
_WH = {"where": "place location country city", "when": "date time year"}
_WH_PAIRS = {("how", "old"): "age", ("how", "many"): "number", ("how", "much"): "amount",
             ("how", "long"): "duration"}

# Words that ask for something named by the words after them ("which club ...").
_ASK = frozenset(["which", "what", "name", "list", "give", "tell", "show", "find"])
_SKIP = frozenset(["is", "are", "was", "were", "be", "a", "an", "the", "me", "us", "all", "of"])
_PREPOSITIONS = frozenset(["of", "in", "on", "at", "to", "for", "from", "by", "with", "into", "about"])

_SEGMENT = re.compile(r"__|[./#:]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def relation_words(relation: str) -> str:
    """Plain words of a relation name: ``__people__person__place_of_birth`` -> "place of birth".

    Hierarchical names (Freebase ``__domain__type__property`` or dotted, URI and
    prefixed forms) keep their last segment, the property itself; ``snake_case``,
    ``camelCase``, ``UPPER_CASE`` and ``kebab-case`` are split into words.
    """
    parts = [p for p in _SEGMENT.split(relation.strip()) if _WORD.search(p)]
    last = parts[-1] if parts else relation
    return " ".join(w.lower() for w in _WORD.findall(_CAMEL.sub(" ", last)))


@dataclass(frozen=True)
class QuestionWords:
    """The relational words of a question; ``answer[i]`` says word ``i`` names the answer."""

    words: list[str]
    answer: list[bool]
    #: the words naming what is asked, as one phrase ("professional football team")
    asked: str = ""


def _split(tokens: Sequence[str | None]) -> list[str | None]:
    words: list[str | None] = []
    for token in tokens:
        if token is None:
            words.append(None)
        else:
            words += [w.lower() for w in _WORD.findall(_CAMEL.sub(" ", token))]
    return words


def question_words(tokens: Sequence[str | None]) -> QuestionWords:
    """The relational words of a question whose entity mentions are given as ``None``.

    Words inside tokens are split like relation names (``people_born_here`` ->
    people, born, here) and function words are dropped. The words that name what is
    asked ("which *football club* ...", "what is the *nationality* of ...") are
    marked as naming the answer; "where", "when", "how old" and "how many" become
    such a word ("place location country city", "date time year", "age", "number"). A question with no other
    relational word keeps its prepositions ("who is *from* Spain ?").
    """
    words = _split(tokens)
    out: list[str] = []
    answer: list[bool] = []
    asked = False
    i = 0
    while i < len(words):
        w, nxt = words[i], words[i + 1] if i + 1 < len(words) else None
        if w is None:
            i += 1
        elif (w, nxt) in _WH_PAIRS or w in _WH:
            out.append(_WH_PAIRS.get((w, nxt)) or _WH[w])
            answer.append(not asked)
            asked = True
            i += 2 if (w, nxt) in _WH_PAIRS else 1
        elif w in _ASK and not asked:
            asked = True
            i += 1
            while i < len(words) and words[i] in _SKIP:
                i += 1
            while i < len(words) and words[i] is not None and words[i] not in STOP_WORDS:
                out.append(words[i])  # type: ignore[arg-type]
                answer.append(True)
                i += 1
        else:
            asked = asked or w in ("who", "whom", "whose")
            if w not in STOP_WORDS:
                out.append(w)
                answer.append(False)
            i += 1
    if all(answer):
        extra = [w for w in words if w in _PREPOSITIONS]
        out += extra
        answer += [False] * len(extra)
    asked = " ".join(w for w, a in zip(out, answer, strict=True) if a)
    return QuestionWords(out, answer, asked)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


def corrected(token: str, vocabulary: Set[str]) -> str:
    """``token`` with a typing error corrected ("foootball" -> "football"), else as is.

    A lower-case word of four letters or more that the vocabulary lacks is replaced by
    the one vocabulary word a single edit away (Norvig's corrector without word
    frequencies: with two candidates or none the word is left alone). A typo in the
    word that names what is asked would otherwise change which kind of node answers.
    Capitalised and underscored tokens are names, never corrected.
    """
    if len(token) < 4 or not token.isalpha() or not token.islower() or token in vocabulary \
            or not vocabulary:
        return token
    found = _edits1(token) & vocabulary
    return found.pop() if len(found) == 1 else token


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def relation_roles(relation: str) -> tuple[list[str], list[str]]:
    """The words of a relation name that describe its object, and those for its subject.

    English names put the object after a preposition (``plays_in_club``: a club) or
    before "of" (``place_of_birth``: a place); a name without one is a noun phrase
    for the object as a whole (``nationality``, ``notable_types``). The remaining
    words describe the subject (``plays`` -> a player). A name ending in a
    preposition (``works_at``) does not name its object: that list is empty.
    """
    words = (relation_words(relation) or relation.lower()).split()
    content = [w for w in words if w not in STOP_WORDS]
    preps = [i for i, w in enumerate(words) if w in _PREPOSITIONS]
    obj: list[str] = []
    subj: list[str] = []
    if preps:
        i = preps[0] if words[preps[0]] == "of" else preps[-1]
        before = [w for w in words[:i] if w not in STOP_WORDS]
        after = [w for w in words[i + 1:] if w not in STOP_WORDS]
        obj, subj = (before, after) if words[i] == "of" else (after, before)
        return obj, subj  # "works at": the object is not named (empty)
    return content or words, subj


class PathScorer:
    """Scores relation paths against one question's words (see the module docstring).

    Args:
        embedder: ``embed(list[str]) -> (n, d)`` unit rows; ``None`` matches words
            literally (the model-free baseline).
        cache: a dict shared across questions mapping text to its vector.
    """

    def __init__(self, embedder: Any, cache: dict[str, Any] | None = None) -> None:
        self.embedder = embedder
        self.cache = cache if cache is not None else {}

    def vectors(self, texts: Sequence[str]) -> Any:
        """Unit vectors of ``texts`` (embedded once, then cached)."""
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            if len(self.cache) > 100_000:
                self.cache.clear()
            for text, vec in zip(missing, self.embedder.embed(missing), strict=True):
                self.cache[text] = np.asarray(vec, dtype=np.float32)
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def similarity(self, words: Sequence[str], relations: Sequence[str],
                   part: str = "all") -> Any:
        """Similarity of each question word to each relation: ``(len(words), len(relations))``.

        A word's similarity to a relation is its best cosine to the relation's phrase or
        to one of its words (``part="object"`` or ``"subject"``: to the words that
        describe that end, see :func:`relation_roles`), in [0, 1]. Without an embedder
        a word matches only one of those words (a plural ``s`` aside).
        """
        import numpy as np

        texts: list[str] = []
        owner: list[int] = []
        for j, rel in enumerate(relations):
            phrase = relation_words(rel) or rel.lower()
            if part == "all":
                parts = [phrase, *(w for w in phrase.split() if w not in STOP_WORDS)]
            else:
                parts = relation_roles(rel)[0 if part == "object" else 1]
            for text in dict.fromkeys(parts):
                texts.append(text)
                owner.append(j)
        out = np.zeros((len(words), len(relations)), dtype=np.float32)
        if not words or not texts:
            return out
        if self.embedder is None:
            stems = [_stem(w) for w in words]
            for text, j in zip(texts, owner, strict=True):
                out[:, j] = np.maximum(out[:, j], [float(_stem(text) == s) for s in stems])
            return out
        sims = self.vectors(list(words)) @ self.vectors(texts).T
        for col, j in enumerate(owner):
            out[:, j] = np.maximum(out[:, j], sims[:, col])
        return np.clip(out, 0.0, 1.0)

    def question(self, question: QuestionWords, relations: Sequence[str]) -> QuestionScorer:
        """A scorer of paths over ``relations`` for one question's words.

        Similarities are chance-corrected: a word's average similarity to the graph's
        relations is what it scores by chance, and only the part above it counts,
        rescaled to [0, 1] (``(s - chance) / (1 - chance)``).
        """
        import numpy as np

        raw = {part: self.similarity(question.words, relations, part)
               for part in ("all", "object", "subject")}
        if self.embedder is not None and len(relations):
            chance = raw["all"].mean(axis=1, keepdims=True)
            scale = np.maximum(1e-6, 1.0 - chance)
            raw = {k: np.clip((v - chance) / scale, 0.0, 1.0) for k, v in raw.items()}
        columns = {k: dict(zip(relations, v.T, strict=True)) for k, v in raw.items()}
        unnamed = {part: {r for r in relations if not relation_roles(r)[i]}
                   for i, part in enumerate(("object", "subject"))}
        kinds = self._kinds(question.asked, relations) if question.asked else None
        return QuestionScorer(len(question.words), columns, question.answer, unnamed, kinds)

    def _kinds(self, asked: str, relations: Sequence[str]) -> dict[str, dict[str, float]] | None:
        """How well the asked-for phrase, as a whole, names each end of each relation.

        A phrase says more than its words one by one: "national team" is a country
        and "professional football team" a club, though "team" alone is as close to
        "plays" as to "club". Chance-corrected like the word similarities."""
        import numpy as np

        if self.embedder is None or not len(relations):
            return None
        chance = float(self.similarity([asked], relations, "all").mean())
        scale = max(1e-6, 1.0 - chance)
        return {part: dict(zip(relations, np.clip(
                    (self.similarity([asked], relations, part)[0] - chance) / scale, 0.0, 1.0)
                    .tolist(), strict=True)) for part in ("object", "subject")}


def slots(relation: str) -> int:
    """How many question words one hop of ``relation`` may explain."""
    phrase = relation_words(relation) or relation
    return max(1, sum(w not in STOP_WORDS for w in phrase.split()))


#: One hop of a path as the scorer sees it: relation, walked forwards?, weight.
HopSpec = tuple[str, bool, float]


class QuestionScorer:
    """The coverage F1 of relation paths for one question (see the module docstring).

    Args:
        n_words: how many relational words the question has.
        columns: ``{"all" | "object" | "subject": {relation: similarity per word}}``.
        answer: per word, whether it names the answer.
    """

    def __init__(self, n_words: int, columns: dict[str, dict[str, Any]],
                 answer: Any = None, unnamed: dict[str, set[str]] | None = None,
                 kinds: dict[str, dict[str, float]] | None = None) -> None:
        import numpy as np

        self.kinds = kinds
        self.unnamed = unnamed or {"object": set(), "subject": set()}
        self.n_words = n_words
        self.columns = columns
        self.answer = np.zeros(n_words, bool) if answer is None else np.asarray(answer, bool)

    def column(self, relation: str, part: str = "all") -> Any:
        import numpy as np

        col = self.columns[part].get(relation)
        return col if col is not None else np.zeros(self.n_words, dtype=np.float32)

    def _hop_column(self, hop: HopSpec, final: bool) -> Any:
        """A hop's similarity to each word; words naming the answer are explained only by
        the last hop, by the words of its relation that describe the end it leads to."""
        rel, forward, weight = hop
        col = self.column(rel).copy()
        if self.answer.any():
            if not final:
                col[self.answer] = 0.0
            else:
                col[self.answer] = self.column(rel, "object" if forward else "subject")[self.answer]
        return col * weight

    def kind(self, hop: HopSpec) -> float | None:
        """How well a final hop's far end is the kind of thing the question asks for: the
        mean match of the words naming the answer; ``None`` when the question names no
        kind or the relation does not name that end (``works_at`` walked forwards)."""
        rel, forward, _ = hop
        end = "object" if forward else "subject"
        if not self.answer.any() or rel in self.unnamed[end]:
            return None
        if self.kinds is not None:
            return self.kinds[end].get(rel, 0.0)
        return float(self._hop_column(hop, True)[self.answer].mean())

    def f1(self, paths: Sequence[Sequence[HopSpec]]) -> float:
        """Score one path, or the paths from several entities to one answer, together."""
        import numpy as np
        from scipy.optimize import linear_sum_assignment

        hops = [(hop, i == len(path) - 1) for path in paths for i, hop in enumerate(path)]
        if not hops or not self.n_words:
            return 0.0
        cols = [self._hop_column(hop, final) for hop, final in hops]
        owner = np.repeat(np.arange(len(cols)), [slots(hop[0]) for hop, _ in hops])
        matrix = np.stack([cols[h] for h in owner], axis=1)  # words x slots
        rows, picked = linear_sum_assignment(matrix, maximize=True)
        matched = float(matrix[rows, picked].sum())
        recall = matched / self.n_words
        # a first hop's words for the question's own entity are explained by its mention
        # ("club" in plays_in_club walked back from "Liverpool_FC"), but every hop must
        # explain something of the question itself
        per_hop = np.bincount(owner[picked], weights=matrix[rows, picked], minlength=len(cols))
        first = np.cumsum([0, *(len(path) for path in paths)])[:-1]
        for start, path in zip(first, paths, strict=True):
            if path:
                rel, forward, _ = path[0]
                n = slots(rel)
                credit = min(len(relation_roles(rel)[1 if forward else 0]), n - 1)
                per_hop[start] = min(float(n), per_hop[start] + credit)
        precision = float(per_hop.sum()) / len(owner)
        if recall + precision <= 0:
            return 0.0
        return 2 * precision * recall / (precision + recall)
