"""LLM-free multi-hop retrieval over a knowledge graph, with an answer that says why.

1. Entity linking: the question's word n-grams are matched to node names exactly,
   then by normalized form (case, accents, ``_``), then fuzzily (rapidfuzz), and
   last by embedding similarity: only spans free of the graph's relation words, with
   a confidence that says how far the best name stands out from the runner-up.
2. Expansion: 1 to 3 hops from each linked node, in both directions, grouped by
   relation path (the sequence of relations walked). A path may lead back to the
   question's own entity ("X 's children 's parents"), but never straight back over
   the edge it just took. Each hop reads at most ``max_edges`` edges from at most
   ``max_nodes`` nodes, those reached by the best-fitting relation paths first, so a
   high-degree node cannot blow up the search.
3. Scoring: each relation path is scored by how completely its hops explain the
   question's relational words, each hop matched to a different part of the
   question (:mod:`.pathscore`). There is no preference for short or long paths: a
   short path leaves words unexplained, a long one has a hop that explains nothing.
4. With several entities in the question, the paths to one answer (one from each
   entity) are scored together, each question word explained once, and an entity
   that does not reach the answer loses its share, so an answer reached from all of
   them wins; a path from one entity does not walk through another of them.
5. :meth:`GraphRetriever.ask` returns the answers with their paths and scores, or
   "no confident answer" when the best score is below ``min_score``.

Relations named ``<rel>_inverse`` are read as the reverse of ``<rel>`` when ``<rel>``
exists too (a common convention of QA knowledge bases), so each fact is one edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sapient.connectors.graph import Edge, GraphStore

from ._ingest import normalize_name
from .pathscore import (
    STOP_WORDS,
    HopSpec,
    PathScorer,
    QuestionScorer,
    corrected,
    question_words,
    relation_words,
)

__all__ = ["DEFAULT_MIN_SCORE", "Answer", "GraphAnswer", "GraphRetriever", "Hop", "Link"]

#: Score below which :meth:`GraphRetriever.ask` gives no answer (all-MiniLM-L6-v2).
#: Chosen on PathQuestion-Large PQL-2H only: the smallest score at which 95% of its
#: questions with the entity replaced by a made-up name abstain (40 sampled, seed 0).
DEFAULT_MIN_SCORE = 0.25
#: A relation walked against its stated direction, when the graph does not state the
#: reverse too, counts this much: of two paths that fit equally, the one read as
#: stated wins ("X 's parents" is not X's children).
REVERSED_WEIGHT = 0.95
#: Relation paths per entity that are read as sentences (the best-fitting ones).
TOP_PATHS = 64
#: Paths per entity and answer kept besides the best, for scoring conjunctions jointly.
ALTERNATIVES = 3

Node = tuple[str, str]  # (label, name)
Step = tuple[str, bool]  # (relation, forward), after reading `_inverse` relations
Signature = tuple[Step, ...]
#: One way an entity reaches an answer: relation path, reading, kind factor, witness path.
_Option = tuple[Signature, float, float, list["Hop"]]


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
    def target(self) -> Node:
        e = self.edge
        return (e.dst_label, e.dst) if self.forward else (e.src_label, e.src)


@dataclass
class Answer:
    """A node that answers the question, the path behind it and how well that path fits.

    ``score`` is in [0, 1]: the share of the question the path explains (see
    :mod:`.pathscore`), times the entity link's confidence; with several entities, the
    share their paths explain together, times the share of entities that reach it. ``support`` counts the paths of that relation sequence that
    reach the answer; ``also`` holds the paths from the question's other entities.
    """

    name: str
    label: str
    score: float
    anchor: str
    path: list[Hop] = field(default_factory=list)
    support: int = 1
    also: list[tuple[str, list[Hop]]] = field(default_factory=list)

    def path_text(self) -> str:
        texts = [_render(self.anchor, self.path)]
        texts += [_render(anchor, path) for anchor, path in self.also]
        return " ; ".join(texts)


@dataclass
class GraphAnswer:
    """What :meth:`GraphRetriever.ask` found: ranked answers, or an abstention and why."""

    question: str
    answers: list[Answer]
    min_score: float
    links: list[Link] = field(default_factory=list)

    @property
    def best_score(self) -> float | None:
        return self.answers[0].score if self.answers else None

    @property
    def abstained(self) -> bool:
        return not self.answers or self.answers[0].score < self.min_score

    @property
    def confident(self) -> list[Answer]:
        """The answers that reach ``min_score``."""
        return [a for a in self.answers if a.score >= self.min_score]

    @property
    def reason(self) -> str:
        if not self.links:
            return "no entity of the question was found in the graph"
        if not self.answers:
            return "no relationship path leads from the question's entities to an answer"
        if self.abstained:
            return (f"no confident answer: the best path explains the question with score "
                    f"{self.answers[0].score:.2f}, below the threshold {self.min_score:.2f}")
        return "answered"

    def to_text(self) -> str:
        """One line per confident answer with its score and path, or why there is none."""
        if self.abstained:
            hint = (" Try graph_lookup with the entity's name." if not self.links
                    else " Say that the graph does not answer this; do not guess.")
            return f"No confident answer: {self.reason}.{hint}"
        return "\n".join(f"{a.name} (score {a.score:.2f}) via {a.path_text()}"
                         for a in self.confident)

    def to_tool_output(self) -> Any:
        """The answer as the ``graph_retrieve`` tool returns it: text, citations (one per
        confident answer, its paths as the cited text) and the figures as data."""
        from sapient.core.messages import Citation, ToolOutput

        found = [{"answer": a.name, "label": a.label, "score": round(a.score, 4),
                  "path": a.path_text()} for a in self.answers]
        data = {"abstained": self.abstained, "reason": self.reason,
                "best_score": self.best_score, "threshold": self.min_score, "answers": found}
        citations = [Citation(f"graph:{a.path_text()}", a.path_text(), a.score,
                              {"answer": a.name, "label": a.label}) for a in self.confident]
        return ToolOutput(self.to_text(), citations=citations, data=data)


def _render(anchor: str, path: list[Hop]) -> str:
    parts = [anchor]
    for hop in path:
        e = hop.edge
        arrow = f"-[{e.relation}]->" if hop.forward else f"<-[{e.relation}]-"
        parts.append(f"{arrow} {hop.target[1]}")
    return " ".join(parts)


@dataclass
class _Scored:
    """An answer from one entity with the relation path and reading behind its score."""

    answer: Answer
    sig: Signature
    reading: float
    link: float
    kind: float = 1.0
    #: other relation paths from the same entity to the same node (best first), with
    #: their reading, kind factor and witness path: a conjunction may need one of them
    alts: list[_Option] = field(default_factory=list)

    @property
    def options(self) -> list[_Option]:
        """This entity's paths to the node, best first: the best one, then ``alts``."""
        return [(self.sig, self.reading, self.kind, self.answer.path), *self.alts]


@dataclass
class _Reach:
    """How a relation path reaches one node: a witness path and how many paths do."""

    path: list[Hop]
    count: int = 1


class GraphRetriever:
    """Answer questions from a graph store without an LLM.

    Args:
        store: the graph store.
        embedder: an object with ``embed(list[str]) -> (n, d)`` unit rows; ``None``
            keeps only exact/normalized/fuzzy linking and literal word matching.
        max_hops: default expansion depth (1 to 3).
        max_edges: edges read per hop at most.
        max_nodes: nodes whose edges are read per hop at most.
        fuzzy_cutoff: rapidfuzz ratio (0-100) a fuzzy link needs.
        embed_cutoff: cosine a link by embedding needs (its confidence is then the
            margin over the runner-up name, see :meth:`_by_embedding`).
        min_score: score below which :meth:`ask` abstains.
    """

    def __init__(self, store: GraphStore, embedder: Any = None, *, max_hops: int = 3,
                 max_edges: int = 20000, max_nodes: int = 2000, fuzzy_cutoff: float = 88.0,
                 embed_cutoff: float = 0.6, min_score: float = DEFAULT_MIN_SCORE) -> None:
        self.store = store
        self.embedder = embedder
        self.max_hops = max(1, min(3, max_hops))
        self.max_edges = max_edges
        self.max_nodes = max_nodes
        self.fuzzy_cutoff = fuzzy_cutoff
        self.embed_cutoff = embed_cutoff
        self.min_score = min_score
        self.scorer = PathScorer(embedder)
        self._version = -1
        self._index: dict[str, list[Node]] = {}
        self._norm_keys: list[str] = []
        self._name_vectors: Any = None
        self._inverse: dict[str, str] = {}
        self._has_inverse: set[str] = set()
        self._relation_vocabulary: set[str] = set()
        self._relations: list[str] = []
        self._words: frozenset[str] | None = None

    # -- the name index ---------------------------------------------------------------

    def _refresh(self) -> None:
        if self._version == self.store.version and self._index:
            return
        index: dict[str, list[Node]] = {}
        for label, name in self.store.node_names():
            index.setdefault(normalize_name(name), []).append((label, name))
        index.pop("", None)
        self._index = index
        self._norm_keys = sorted(index)
        self._name_vectors = None
        rels = set(self.store.schema().rels)
        self._inverse = {r: r[: -len("_inverse")] for r in rels
                         if r.endswith("_inverse") and r[: -len("_inverse")] in rels}
        self._has_inverse = set(self._inverse.values())
        self._relation_vocabulary = {w for r in rels for w in relation_words(r).split()}
        self._relations = sorted(rels - set(self._inverse))
        self._version = self.store.version

    # -- linking ----------------------------------------------------------------------

    def link(self, question: str) -> list[Link]:
        """Nodes mentioned in the question, longest non-overlapping spans first."""
        self._refresh()
        if not self._index:
            return []  # an empty graph names nothing
        tokens = question.split()
        found: list[Link] = []
        for n in range(min(8, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                span = " ".join(tokens[i:i + n]).strip("?!.,;:\"'()")
                key = normalize_name(span)
                if not key or key in STOP_WORDS:
                    continue
                for label, name in self._index.get(key, ()):
                    how = "exact" if name == span else "normalized"
                    found.append(Link(label, name, i, i + n, how))
        links = self._not_relation_words(self._non_overlapping(found))
        if not links:
            links = self._fuzzy(tokens)
        if not links and self.embedder is not None:
            links = self._by_embedding(tokens)
        return links

    def _not_relation_words(self, links: list[Link]) -> list[Link]:
        """Drop links whose words all name relations when the question names another entity.

        "what is the gender of Let_Me_In 's artist ?" links ``Let_Me_In`` and, in a graph
        with a node ``Artist``, "artist" too; the graph uses "artist" as a relation word,
        so that reading wins and the question keeps one entity.
        """
        if len(links) < 2:
            return links
        keep = [lk for lk in links
                if not set(normalize_name(lk.name).split()) <= self._relation_vocabulary]
        return keep or links

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
                if key and not all(w in STOP_WORDS for w in key.split()) and len(key) >= 3:
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
        """Links by meaning, the last resort: a span is linked to its nearest name.

        Spans holding one of the graph's relation words are not candidates ("club
        Zorbaxa" is near every club through "club"), and the link's confidence is the
        best name's margin over the runner-up, ``(best - second) / (1 - second)``: a
        span about equally near two names identifies neither (Lowe's ratio test)."""
        import numpy as np

        if len(self._norm_keys) > 200000:
            return []  # too many names to embed on the fly
        if self._name_vectors is None:
            self._name_vectors = self.embedder.embed(self._norm_keys)
        cands = [c for c in self._candidates(tokens)
                 if not set(c[2].split()) & self._relation_vocabulary]
        if not cands:
            return []
        sims = self.embedder.embed([c[2] for c in cands]) @ self._name_vectors.T
        found = []
        for (i, j, _), row in zip(cands, sims, strict=True):
            best = int(row.argmax())
            if row[best] >= self.embed_cutoff:
                runner_up = float(np.partition(row, -2)[-2]) if len(row) > 1 else 0.0
                score = (float(row[best]) - runner_up) / max(1e-6, 1.0 - runner_up)
                for label, name in self._index[self._norm_keys[best]]:
                    found.append(Link(label, name, i, j, "embedding", score))
        return self._non_overlapping(found)[:3]

    def _vocabulary(self) -> frozenset[str]:
        """The embedder's dictionary of whole words, for correcting typos in questions
        (empty without one: no correction)."""
        if self._words is None:
            source = getattr(self.embedder, "vocabulary", None)
            self._words = frozenset(source()) if callable(source) else frozenset()
        return self._words

    # -- expansion ----------------------------------------------------------------------

    def _step(self, hop: Hop) -> tuple[Step, tuple[str, str, str]]:
        """The hop as a relation step and the fact it walks, `_inverse` twins read as one."""
        e = hop.edge
        if e.relation in self._inverse:
            rel = self._inverse[e.relation]
            return (rel, not hop.forward), (rel, e.dst, e.src)
        return (e.relation, hop.forward), (e.relation, e.src, e.dst)

    def _adjacency(self, nodes: list[Node]) -> dict[Node, list[tuple[Hop, Step, tuple]]]:
        """The hops out of ``nodes`` (both directions), at most ``max_edges`` edges read,
        shared out in the order of ``nodes`` (the most promising first)."""
        wanted = set(nodes)
        edges = self.store.edges(sorted({n for _, n in nodes}))
        by_node: dict[Node, list[tuple[Hop, Step, tuple]]] = {}
        for e in edges:
            for hop in (Hop(e, True), Hop(e, False)):
                here = (e.src_label, e.src) if hop.forward else (e.dst_label, e.dst)
                if here in wanted and (hop.forward or e.src != e.dst or e.src_label != e.dst_label):
                    step, fact = self._step(hop)
                    by_node.setdefault(here, []).append((hop, step, fact))
        out: dict[Node, list[tuple[Hop, Step, tuple]]] = {}
        budget = self.max_edges
        for node in nodes:
            hops = by_node.get(node, [])
            seen: dict[tuple, int] = {}
            kept: list[tuple[Hop, Step, tuple]] = []
            for item in sorted(hops, key=lambda h: not h[0].forward):  # stated first
                key = (item[1], item[2])  # an edge and its `_inverse` twin are one fact
                if key not in seen:
                    seen[key] = len(kept)
                    kept.append(item)
            out[node] = kept[:budget]
            budget -= len(out[node])
            if budget <= 0:
                break
        return out

    def _frontier(self, layer: dict[Signature, dict[Node, _Reach]],
                  priority: Callable[[Signature], float]) -> list[Node]:
        """The nodes to expand next, those of the best-fitting relation paths first."""
        order: dict[Node, None] = {}
        for sig in sorted(layer, key=priority, reverse=True):
            for node in layer[sig]:
                order.setdefault(node, None)
                if len(order) >= self.max_nodes:
                    return list(order)
        return list(order)

    def expand(self, start: Node, hops: int,
               priority: Callable[[Signature], float] = lambda sig: 0.0,
               through: frozenset[Node] | set[Node] = frozenset(),
               ) -> dict[Signature, dict[Node, _Reach]]:
        """Every relation path of 1 to ``hops`` steps from ``start`` and the nodes it reaches.

        Nodes in ``through`` are reached but not walked through (the question's other
        entities: what lies beyond them is reached from them, by their own paths)."""
        reached: dict[Signature, dict[Node, _Reach]] = {}
        layer: dict[Signature, dict[Node, _Reach]] = {(): {start: _Reach([])}}
        for _ in range(hops):
            adjacency = self._adjacency(self._frontier(layer, priority))
            nxt: dict[Signature, dict[Node, _Reach]] = {}
            for sig, nodes in layer.items():
                for node, reach in nodes.items():
                    last = self._step(reach.path[-1]) if reach.path else None
                    for hop, step, fact in adjacency.get(node, ()):
                        if (last is not None and reach.count == 1 and fact == last[1]
                                and step[1] != last[0][1]):
                            continue  # straight back over the edge just taken
                        targets = nxt.setdefault((*sig, step), {})
                        have = targets.get(hop.target)
                        if have is None:
                            targets[hop.target] = _Reach([*reach.path, hop], reach.count)
                        else:
                            have.count += reach.count
            if not nxt:
                break
            reached.update(nxt)
            layer = {sig: kept for sig, nodes in nxt.items()
                     if (kept := {n: r for n, r in nodes.items() if n not in through})}
        return reached

    # -- scoring ------------------------------------------------------------------------

    def _hop_specs(self, sig: Signature) -> list[HopSpec]:
        """A relation path as the scorer sees it; a relation walked against its stated
        direction (when the graph does not state the reverse) weighs ``REVERSED_WEIGHT``."""
        return [(rel, fwd, 1.0 if fwd or rel in self._has_inverse else REVERSED_WEIGHT)
                for rel, fwd in sig]

    def _sentence(self, sig: Signature) -> str:
        """The path as a sentence with placeholders: ``X plays in club Y , Y is in country what``."""
        names = ["X", "Y", "Z", "W"]
        parts = []
        for i, (rel, fwd) in enumerate(sig):
            obj = "what" if i == len(sig) - 1 else names[i + 1]
            w = relation_words(rel)
            parts.append(f"{names[i]} {w} {obj}" if fwd else f"{obj} {w} {names[i]}")
        return " , ".join(parts)

    def _readings(self, sigs: list[Signature], question: str) -> list[float]:
        """How much each path, read as a sentence, says what the question says (cosine)."""
        if self.embedder is None:
            return [1.0] * len(sigs)
        vecs = self.scorer.vectors([question, *(self._sentence(sig) for sig in sigs)])
        return [float(max(0.0, c)) for c in vecs[1:] @ vecs[0]]

    def _answers_from(self, link: Link, scorer: QuestionScorer, masked: str, hops: int,
                      excluded: set[Node]) -> dict[Node, _Scored]:
        """The best-scoring answer per node reached from one linked entity."""
        fits: dict[Signature, float] = {}

        def fit(sig: Signature) -> float:
            if sig not in fits:
                fits[sig] = scorer.f1([self._hop_specs(sig)])
            return fits[sig]

        reached = self.expand((link.label, link.name), hops, priority=fit, through=excluded)
        ranked = sorted(reached, key=fit, reverse=True)[:TOP_PATHS]
        kinds = [scorer.kind(self._hop_specs(sig)[-1]) for sig in ranked]
        top_kind = max((k for k in kinds if k is not None), default=0.0)
        best: dict[Node, _Scored] = {}
        for sig, reading, kind in zip(ranked, self._readings(ranked, masked), kinds, strict=True):
            # its end fits the kind asked for worse than the best end
            factor = 1.0 if kind is None else 1.0 - (top_kind - kind)
            value = math.sqrt(fit(sig) * reading) * link.score * factor
            for node, reach in reached[sig].items():
                if node in excluded:
                    continue
                have = best.get(node)
                if have is None or value > have.answer.score + 1e-9:
                    alts = [] if have is None else have.options
                    best[node] = _Scored(Answer(node[1], node[0], value, link.name, reach.path,
                                                reach.count), sig, reading, link.score,
                                         factor, alts[:ALTERNATIVES])
                elif abs(value - have.answer.score) <= 1e-9:
                    have.answer.support += reach.count
                elif len(have.alts) < ALTERNATIVES:
                    have.alts.append((sig, reading, factor, reach.path))
        return best

    def retrieve(self, question: str, *, k: int = 5, hops: int | None = None) -> list[Answer]:
        """Top ``k`` answers to ``question`` with their supporting paths (best first)."""
        return self._retrieve(question, self.link(question), k, hops)

    def ask(self, question: str, *, k: int = 5, hops: int | None = None) -> GraphAnswer:
        """Answers with paths and scores, or an abstention when none reaches ``min_score``."""
        links = self.link(question)
        answers = self._retrieve(question, links, k, hops)
        return GraphAnswer(question, answers, self.min_score, links)

    def _retrieve(self, question: str, links: list[Link], k: int,
                  hops: int | None) -> list[Answer]:
        if not links:
            return []
        hops = max(1, min(3, hops or self.max_hops))
        vocabulary = self._vocabulary()
        tokens = [corrected(t, vocabulary) for t in question.split()]
        mention = {i for lk in links for i in range(lk.start, lk.end)}
        words = question_words([None if i in mention else t for i, t in enumerate(tokens)])
        if not words.words:
            return []
        # each hop explains different words: in a path with more hops than the question
        # has relational words, some hop explains nothing, so such paths are not searched
        hops = min(hops, len(words.words))
        scorer = self.scorer.question(words, self._relations)
        anchors = {(lk.label, lk.name) for lk in links}
        per_anchor = []
        for lk in links:
            masked = " ".join(t for t in (("X" if i == lk.start else "")
                                          if lk.start <= i < lk.end else t
                                          for i, t in enumerate(tokens)) if t)
            per_anchor.append(self._answers_from(lk, scorer, masked, hops,
                                                 anchors - {(lk.label, lk.name)}))
        ranked = sorted(self._combine(per_anchor, scorer),
                        key=lambda a: (-round(a.score, 6), -a.support, a.name))
        return ranked[:k]

    def _combine(self, per_anchor: list[dict[Node, _Scored]],
                 scorer: QuestionScorer) -> list[Answer]:
        """One score per answer: how well its paths from the question's entities explain
        the question *together* (an entity with no path to it explains nothing: its
        share is lost).

        Every entity the question names is part of what it says: "which player in club
        A is from country B" is answered by a node both A and B reach, and a node only
        B reaches leaves the part about A unexplained, however well its path fits the
        words. The paths to one answer are scored as one explanation
        (:meth:`QuestionScorer.f1` of all of them: each question word explained once),
        so a path from B that wanders through a club to explain "club" again, which
        A's path already explains, has a hop that explains nothing. Each entity offers
        its few best paths to the answer; the best combination counts. With one entity
        the score is that entity's best path score.
        """
        out: dict[Node, Answer] = {}
        reached: dict[Node, list[_Scored]] = {}
        for scored in per_anchor:
            for node, item in scored.items():
                reached.setdefault(node, []).append(item)
        n_entities = max(1, len(per_anchor))
        joint: dict[tuple[Signature, ...], float] = {}
        for node, items in reached.items():
            items.sort(key=lambda x: -x.answer.score)
            first = items[0].answer
            answer = Answer(first.name, first.label, first.score, first.anchor,
                            list(first.path), first.support)
            answer.also = [(x.answer.anchor, list(x.answer.path)) for x in items[1:]]
            if len(items) == 1:
                answer.score = first.score / n_entities
            else:
                answer.score = self._joint_score(items, scorer, joint, answer) \
                    * len(items) / n_entities
            out[node] = answer
        return list(out.values())

    def _joint_score(self, items: list[_Scored], scorer: QuestionScorer,
                     cache: dict[tuple[Signature, ...], float], answer: Answer) -> float:
        """The best score of one path per entity to the same answer, scored together;
        ``answer``'s paths are set to that combination."""
        from itertools import product

        options = [x.options for x in items]
        link = sum(x.link for x in items) / len(items)
        best, chosen = -1.0, None
        for combo in product(*options):
            sigs = tuple(c[0] for c in combo)
            if sigs not in cache:
                cache[sigs] = scorer.f1([self._hop_specs(sig) for sig in sigs])
            reading = sum(c[1] for c in combo) / len(combo)
            kind = sum(c[2] for c in combo) / len(combo)
            value = math.sqrt(cache[sigs] * reading) * link * kind
            if value > best + 1e-9:
                best, chosen = value, combo
        assert chosen is not None
        answer.path = list(chosen[0][3])
        answer.also = [(x.answer.anchor, list(c[3]))
                       for x, c in zip(items[1:], chosen[1:], strict=True)]
        return best
