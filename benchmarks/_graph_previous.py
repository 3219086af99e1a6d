"""The graph retriever as it was before path scoring by question coverage (frozen copy).

Kept only so that ``benchmarks/graph.py`` can run it side by side with the current
``sapient.plugins.knowledge_graph.GraphRetriever`` in one process; not part of the
package. Its path score is the cosine between the question and the path written as a
sentence, plus an answer-type bonus and a per-hop penalty.

LLM-free multi-hop retrieval over a knowledge graph.

1. Entity linking: the question's word n-grams are matched to node names exactly,
   then by normalized form (case, accents, ``_``), then fuzzily (rapidfuzz), and
   last by embedding similarity.
2. Expansion: 1 to 3 hops from each linked node, in both directions.
3. Scoring: each relation path is written as a small sentence with placeholders
   (``X plays in club Y, Y is in country what``), the mention in the question is
   replaced by ``X``, and both are compared with the sentence-transformers
   embedder. Paths are few (they depend on relation types, not on nodes), so their
   embeddings are cached.
4. The answer nodes with the best path scores come back with the path that supports
   each, so an agent can cite it.

Relations named ``<rel>_inverse`` are read as the reverse of ``<rel>`` when ``<rel>``
exists too (a common convention of QA knowledge bases), so each fact is one edge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sapient.connectors.graph import Edge, GraphStore
from sapient.plugins.knowledge_graph._ingest import normalize_name

__all__ = ["PreviousGraphRetriever"]

_STOP = frozenset(
    ["a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "and", "or", "is", "are", "was", "were", "be", "been", "who", "whom", "whose", "what", "which", "where", "when", "why", "how", "does", "do", "did", "name", "tell", "me", "give", "list", "that", "this", "these", "those", "it", "its", "as"])


@dataclass(frozen=True)
class Link:
    """A question span linked to a node."""

    label: str
    name: str
    start: int
    end: int
    how: str  # "exact", "normalized", "fuzzy", "embedding"
    score: float = 1.0


@dataclass(frozen=True)
class Hop:
    """One step of a path: ``src -[relation]-> dst`` walked forwards or backwards."""

    edge: Edge
    forward: bool

    @property
    def target(self) -> tuple[str, str]:
        e = self.edge
        return (e.dst_label, e.dst) if self.forward else (e.src_label, e.src)


@dataclass
class Answer:
    name: str
    label: str
    score: float
    anchor: str
    path: list[Hop] = field(default_factory=list)
    support: int = 1
    #: further supporting paths from other entities of the question (conjunctions)
    also: list[tuple[str, list[Hop]]] = field(default_factory=list)

    def path_text(self) -> str:
        texts = [_render(self.anchor, self.path)]
        texts += [_render(anchor, path) for anchor, path in self.also]
        return " ; ".join(texts)


def _render(anchor: str, path: list[Hop]) -> str:
    parts = [anchor]
    for hop in path:
        e = hop.edge
        arrow = f"-[{e.relation}]->" if hop.forward else f"<-[{e.relation}]-"
        parts.append(f"{arrow} {hop.target[1]}")
    return " ".join(parts)


def _words(rel: str) -> str:
    return re.sub(r"[_\W]+", " ", rel).strip().lower()


# What a wh-word asks for when the question names no type itself.
_WH_TYPES = {"where": "place location country city", "when": "date time year",
             "who": "person", "whom": "person", "how old": "age", "how many": "number count"}
_AUX = frozenset(["does", "do", "did", "is", "are", "was", "were", "has", "have", "had", "can", "will", "plays", "play"])
_PREP = frozenset(["from", "in", "at", "of", "for", "with", "on", "by", "to", "that", "who", "which"])
_ASK = ("which", "what", "name", "list", "give", "tell")


def asked_type(question: str) -> str:
    """The kind of thing a question asks for: "which football club ..." -> "football club".

    A general reading of question structure (wh-word, then the noun phrase before the
    verb), used as a prior on the answer's type; ``""`` when nothing can be read.
    """
    words = re.findall(r"[a-z]+", question.lower())
    text = " ".join(words)
    for wh in ("how old", "how many"):
        if text.startswith(wh) or f" {wh} " in f" {text} ":
            return _WH_TYPES[wh]
    for i, w in enumerate(words):
        if w in ("where", "when", "who", "whom"):
            return _WH_TYPES[w]
        if w in _ASK:
            rest = words[i + 1:]
            phrase: list[str] = []
            for t in rest:
                if t in _AUX or t in _PREP:
                    break
                phrase.append(t)
            if not phrase and rest and rest[0] in _AUX:  # "what is the age of X"
                for t in rest[1:]:
                    if t in ("of", "for", "that", "does", "do", "is"):
                        break
                    phrase.append(t)
            content = [t for t in phrase if t not in _STOP and t not in ("me", "us")]
            return " ".join(content[:4])
    return ""


class PreviousGraphRetriever:
    """Answer questions from a graph store without an LLM.

    Args:
        store: the graph store.
        embedder: an object with ``embed(list[str]) -> (n, d)`` unit rows; ``None``
            keeps only exact/normalized/fuzzy linking and relation-word overlap.
        max_hops: default expansion depth (1 to 3).
        max_edges: edges read per hop at most (bounds work on hub nodes).
        fuzzy_cutoff: rapidfuzz ratio (0-100) a fuzzy link needs.
        embed_cutoff: cosine a link by embedding needs.
        type_weight: bonus of the answer-type prior: answers whose type (named by
            the last relation, ``plays_in_club`` -> "club") is the one the question
            clearly asks for ("where" -> place, "which club" -> club); 0 turns it off.
        type_margin: how much better (cosine) that type must fit than the runner-up.
        hop_penalty: subtracted per hop beyond the first (prefers the shorter of
            two paths that fit about equally well).
    """

    def __init__(self, store: GraphStore, embedder: Any = None, *, max_hops: int = 2,
                 max_edges: int = 20000, fuzzy_cutoff: float = 88.0,
                 embed_cutoff: float = 0.6, type_weight: float = 0.15,
                 type_margin: float = 0.1, hop_penalty: float = 0.03) -> None:
        self.store = store
        self.type_margin = type_margin
        self.hop_penalty = hop_penalty
        self.type_weight = type_weight
        self.embedder = embedder
        self.max_hops = max(1, min(3, max_hops))
        self.max_edges = max_edges
        self.fuzzy_cutoff = fuzzy_cutoff
        self.embed_cutoff = embed_cutoff
        self._version = -1
        self._index: dict[str, list[tuple[str, str]]] = {}
        self._norm_keys: list[str] = []
        self._name_vectors: Any = None
        self._inverse: dict[str, str] = {}
        self._vectors: dict[str, Any] = {}

    # -- the name index ---------------------------------------------------------------

    def _refresh(self) -> None:
        if self._version == self.store.version and self._index:
            return
        index: dict[str, list[tuple[str, str]]] = {}
        for label, name in self.store.node_names():
            index.setdefault(normalize_name(name), []).append((label, name))
        index.pop("", None)
        self._index = index
        self._norm_keys = sorted(index)
        self._name_vectors = None
        rels = set(self.store.schema().rels)
        self._inverse = {r: r[: -len("_inverse")] for r in rels
                         if r.endswith("_inverse") and r[: -len("_inverse")] in rels}
        self._version = self.store.version

    def _embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            if len(self._vectors) > 50000:
                self._vectors.clear()
            for text, vec in zip(missing, self.embedder.embed(list(missing)), strict=True):
                self._vectors[text] = vec
        return np.stack([self._vectors[t] for t in texts])

    # -- linking ----------------------------------------------------------------------

    def link(self, question: str) -> list[Link]:
        """Nodes mentioned in the question, longest non-overlapping spans first."""
        self._refresh()
        tokens = question.split()
        found: list[Link] = []
        for n in range(min(8, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                span = " ".join(tokens[i:i + n]).strip("?!.,;:\"'()")
                key = normalize_name(span)
                if not key or key in _STOP:
                    continue
                for label, name in self._index.get(key, ()):
                    how = "exact" if name == span else "normalized"
                    found.append(Link(label, name, i, i + n, how))
        links = self._non_overlapping(found)
        if not links:
            links = self._fuzzy(tokens)
        if not links and self.embedder is not None:
            links = self._by_embedding(tokens)
        return links

    @staticmethod
    def _non_overlapping(found: list[Link]) -> list[Link]:
        found.sort(key=lambda x: (-(x.end - x.start), -x.score, x.start))
        used: set[int] = set()
        out: list[Link] = []
        for link in found:
            span = set(range(link.start, link.end))
            if span & used and not any(o.start == link.start and o.end == link.end for o in out):
                continue
            used |= span
            out.append(link)
        return out

    def _candidates(self, tokens: list[str]) -> list[tuple[int, int, str]]:
        out = []
        for n in range(1, min(4, len(tokens)) + 1):
            for i in range(len(tokens) - n + 1):
                key = normalize_name(" ".join(tokens[i:i + n]))
                if key and not all(w in _STOP for w in key.split()) and len(key) >= 3:
                    out.append((i, i + n, key))
        return out

    def _fuzzy(self, tokens: list[str]) -> list[Link]:
        from rapidfuzz import fuzz, process

        found = []
        for i, j, key in self._candidates(tokens):
            match = process.extractOne(key, self._norm_keys, scorer=fuzz.ratio,
                                       score_cutoff=self.fuzzy_cutoff)
            if match:
                for label, name in self._index[match[0]]:
                    found.append(Link(label, name, i, j, "fuzzy", match[1] / 100.0))
        return self._non_overlapping(found)

    def _by_embedding(self, tokens: list[str]) -> list[Link]:
        if len(self._norm_keys) > 200000:
            return []  # too many names to embed on the fly
        if self._name_vectors is None:
            self._name_vectors = self.embedder.embed(self._norm_keys)
        cands = self._candidates(tokens)
        if not cands:
            return []
        sims = self.embedder.embed([c[2] for c in cands]) @ self._name_vectors.T
        found = []
        for (i, j, _), row in zip(cands, sims, strict=True):
            best = int(row.argmax())
            if row[best] >= self.embed_cutoff:
                for label, name in self._index[self._norm_keys[best]]:
                    found.append(Link(label, name, i, j, "embedding", float(row[best])))
        return self._non_overlapping(found)[:3]

    # -- expansion and scoring ---------------------------------------------------------

    def _hop_text(self, hop: Hop, subj: str, obj: str) -> str:
        rel, forward = hop.edge.relation, hop.forward
        if rel in self._inverse:
            rel, forward = self._inverse[rel], not forward
        words = _words(rel)
        return f"{subj} {words} {obj}" if forward else f"{obj} {words} {subj}"

    def _path_text(self, path: Sequence[Hop]) -> str:
        names = ["X", "Y", "Z", "W"]
        parts = []
        for i, hop in enumerate(path):
            obj = "what" if i == len(path) - 1 else names[i + 1]
            parts.append(self._hop_text(hop, names[i], obj))
        return " , ".join(parts)

    def _answer_type(self, hop: Hop) -> str:
        """The answer's type read from the last relation's name, when the answer is its
        object: ``plays_in_club`` -> "club". Unknown ("") when it is the subject."""
        rel, forward = hop.edge.relation, hop.forward
        if rel in self._inverse:
            rel, forward = self._inverse[rel], not forward
        last = _words(rel).split()[-1:] if forward else []
        return last[0] if last and last[0] not in _STOP else ""

    def _canonical(self, hop: Hop) -> tuple[str, bool, tuple[str, str]]:
        rel, forward = hop.edge.relation, hop.forward
        if rel in self._inverse:
            rel, forward = self._inverse[rel], not forward
        return rel, forward, hop.target

    def _expand(self, start: tuple[str, str], hops: int) -> list[list[Hop]]:
        paths: list[list[Hop]] = []
        frontier: list[list[Hop]] = [[]]
        for _ in range(hops):
            ends = {(p[-1].target if p else start)[1] for p in frontier}
            edges = self.store.edges(sorted(ends))[: self.max_edges]
            by_node: dict[str, list[Hop]] = {}
            for e in edges:
                by_node.setdefault(e.src, []).append(Hop(e, True))
                if e.dst != e.src:
                    by_node.setdefault(e.dst, []).append(Hop(e, False))
            nxt: list[list[Hop]] = []
            for path in frontier:
                here = path[-1].target if path else start
                visited = {start} | {h.target for h in path}
                seen: set[tuple[str, bool, tuple[str, str]]] = set()
                for hop in by_node.get(here[1], ()):
                    if (hop.edge.src_label, hop.edge.src) != here and hop.forward:
                        continue
                    if (hop.edge.dst_label, hop.edge.dst) != here and not hop.forward:
                        continue
                    if hop.target in visited:
                        continue
                    key = self._canonical(hop)  # an edge and its `_inverse` twin are one fact
                    if key in seen:
                        continue
                    seen.add(key)
                    nxt.append([*path, hop])
            paths += nxt
            frontier = nxt
            if not frontier:
                break
        return paths

    def retrieve(self, question: str, *, k: int = 5, hops: int | None = None) -> list[Answer]:
        """Top ``k`` answers to ``question`` with their supporting paths."""
        links = self.link(question)
        if not links:
            return []
        hops = max(1, min(3, hops or self.max_hops))
        tokens = question.split()
        per_anchor: list[dict[tuple[str, str], Answer]] = []
        anchors = {(lk.label, lk.name) for lk in links}
        for lk in links:
            masked = [("X" if i == lk.start else "") if lk.start <= i < lk.end else t
                      for i, t in enumerate(tokens)]
            q_text = " ".join(t for t in masked if t)
            paths = self._expand((lk.label, lk.name), hops)
            scored: dict[tuple[str, str], Answer] = {}
            per_anchor.append(scored)
            if not paths:
                continue
            texts = [self._path_text(p) for p in paths]
            scores = self._score(q_text, texts)
            wanted = asked_type(question) if self.type_weight else ""
            if wanted and self.embedder is not None:
                types = [self._answer_type(p[-1]) for p in paths]
                fitting = self._decisive_type(wanted, sorted({t for t in types if t}))
                if fitting:
                    scores = [s + (self.type_weight if t == fitting else 0.0)
                              for s, t in zip(scores, types, strict=True)]
            for path, score in zip(paths, scores, strict=True):
                target = path[-1].target
                if target in anchors:
                    continue
                score = float(score) * lk.score - self.hop_penalty * (len(path) - 1)
                best = scored.get(target)
                if best is None or score > best.score + 1e-6:
                    support = best.support + 1 if best and abs(best.score - score) < 1e-6 else 1
                    scored[target] = Answer(target[1], target[0], score, lk.name, path, support)
                elif abs(score - best.score) <= 1e-6:
                    best.support += 1
        ranked = sorted(self._combine(per_anchor),
                        key=lambda a: (-round(a.score, 6), -a.support, a.name))
        return ranked[:k]

    def _decisive_type(self, wanted: str, known: list[str]) -> str:
        """The answer type the question clearly asks for, or "" when none stands out.

        The best-fitting type must beat the runner-up by ``type_margin`` in cosine, so
        a vague ask ("who", "player") gives no preference at all.
        """
        if not known:
            return ""
        vecs = self._embed([wanted, *known])
        fits = sorted(zip((float(v) for v in vecs[1:] @ vecs[0]), known, strict=True),
                      reverse=True)
        if len(fits) == 1:
            return fits[0][1] if fits[0][0] >= 0.5 else ""
        return fits[0][1] if fits[0][0] - fits[1][0] >= self.type_margin else ""

    @staticmethod
    def _combine(per_anchor: list[dict[tuple[str, str], Answer]]) -> list[Answer]:
        """Sum each answer's best score over the question's entities.

        With one entity this is its best path score; with several (conjunctive
        questions such as "which player of club A is from country B") an answer
        reached from every entity outranks one reached from a single entity.
        """
        if len(per_anchor) == 1:
            return list(per_anchor[0].values())
        out: dict[tuple[str, str], Answer] = {}
        for scored in per_anchor:
            for target, ans in scored.items():
                have = out.get(target)
                if have is None:
                    out[target] = Answer(ans.name, ans.label, ans.score, ans.anchor,
                                         list(ans.path), ans.support)
                else:
                    have.score += ans.score
                    have.also.append((ans.anchor, list(ans.path)))
        return list(out.values())

    def _score(self, question: str, texts: list[str]) -> list[float]:
        unique = list(dict.fromkeys(texts))
        if self.embedder is not None:
            vecs = self._embed([question, *unique])
            sims = vecs[1:] @ vecs[0]
            table = dict(zip(unique, (float(s) for s in sims), strict=True))
        else:  # word overlap (Jaccard) as a dependency-free fallback
            q = set(normalize_name(question).split()) - _STOP
            table = {}
            for t in unique:
                w = set(normalize_name(t).split()) - _STOP - {"x", "y", "z", "w"}
                table[t] = len(q & w) / (len(q | w) or 1)
        return [table[t] for t in texts]
