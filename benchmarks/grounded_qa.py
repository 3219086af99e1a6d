"""Grounded, cited, abstaining answers on SQuAD 2.0, side by side with two peers.

Usage::

    python benchmarks/grounded_qa.py --data ../shared/data/squad2/dev-v2.0.json --json
    python benchmarks/grounded_qa.py --modes sapient --limit 50      # a quick look

One index per article: its paragraphs are ingested as documents (one passage each,
id ``<article>-p<n>``). Every question goes through the default answer path: an
``Agent`` on ``llamacpp:default`` with the ``search_documents`` tool, whose answer the
``sapient.plugins.answers`` plugin composes from the evidence. Scoring:

* answerable questions: *answered and cited* when the answer (at most 50 words) holds a
  gold span (SQuAD normalisation: case, punctuation and articles ignored) and cites
  the paragraph that holds it; token F1 against the best gold answer (0 when the
  answer abstains);
* unanswerable questions: *abstained* when the answer abstains. Sapient's answers
  abstain with "No sufficient evidence"; the peers abstain when their text contains
  one of ``ABSTAIN_PHRASES`` or is empty.

Peers, on the same model and index: ``bundled_llm`` (the same GGUF model writing the
answer from the passages the search tool returned, with the standard instruction to
cite or say it does not know) and ``langchain`` (LangChain's standard retrieval chain,
``create_retrieval_chain`` + ``create_stuff_documents_chain``, with a LangChain
retriever over Sapient's index and the same GGUF model through
``langchain_community.llms.LlamaCpp``). The peers write text, so they are slow: they
run on a fixed-seed subset per article (``--peer-limit``, half answerable, half not),
and the peers are credited with citing when the gold paragraph is among the passages
they were given (generous to them).

Sapient's answer threshold is swept; the one reported is chosen on the Normans
article (where its answered-and-cited and abstained shares are equal) and applied
unchanged to every article. Sapient's figures on the peers' subset are reported too
(``sapient@subset``), so the side-by-side compares the same questions. ``--json`` ends with one JSON line:
``{"n", "modes", "by_article", "sweep", "threshold", ...}``.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad2" / "dev-v2.0.json"
CHOSEN_ON = "Normans"
MAX_WORDS = 50
#: A peer's answer abstains when it is empty or contains one of these (lower case).
ABSTAIN_PHRASES = ("no sufficient evidence", "i don't know", "i do not know", "don't know",
                   "do not know", "cannot answer", "can't answer", "not enough information",
                   "no information", "not mentioned", "does not say", "doesn't say",
                   "not provided", "unknown", "no answer", "not stated", "unable to answer")
PEER_SYSTEM = ("You are an assistant for question-answering tasks. Use the following pieces "
               "of retrieved context to answer the question. If you don't know the answer, "
               "say that you don't know. Use three sentences maximum and keep the answer "
               "concise.")


# -- data and scoring -----------------------------------------------------------------


def slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:60] or "article"


def load(path: Path) -> list[dict[str, Any]]:
    """Articles with their paragraphs and questions (SQuAD 2.0 JSON).

    Raises ValueError with a plain sentence when the file is not SQuAD 2.0 JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _articles(data["data"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a SQuAD 2.0 JSON file ({type(exc).__name__}: "
                         f"{exc}); pass the dev-v2.0.json of SQuAD 2.0 with --data.") from None


def _articles(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    articles = []
    for art in data:
        name = slug(art["title"])
        paragraphs, questions = [], []
        for i, p in enumerate(art["paragraphs"]):
            pid = f"{name}-p{i}"
            paragraphs.append((pid, p["context"]))
            for q in p["qas"]:
                questions.append({"id": q["id"], "question": q["question"], "para": pid,
                                  "impossible": bool(q.get("is_impossible")),
                                  "gold": [a["text"] for a in q.get("answers", [])]})
        articles.append({"title": art["title"], "slug": name, "paragraphs": paragraphs,
                         "questions": questions})
    return articles


def normalize(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(answer: str, gold: list[str]) -> float:
    best = 0.0
    pred = normalize(answer).split()
    for g in gold:
        ref = normalize(g).split()
        common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def peer_abstains(text: str | None) -> bool:
    low = (text or "").strip().lower()
    return not low or any(p in low for p in ABSTAIN_PHRASES)


def score(q: dict[str, Any], answer: str | None, abstained: bool, cited: set[str]) -> dict:
    """One question's outcome: answered-and-cited, F1 (answerable) or abstained."""
    if q["impossible"]:
        return {"impossible": True, "ok": abstained, "f1": 0.0}
    text = answer or ""
    ok = (not abstained and len(text.split()) <= MAX_WORDS and q["para"] in cited
          and any(normalize(g) in normalize(text) for g in q["gold"]))
    return {"impossible": False, "ok": ok, "f1": 0.0 if abstained else token_f1(text, q["gold"])}


def _mean(xs: list[Any]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def summary(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [o for o in outcomes if not o["impossible"]]
    imp = [o for o in outcomes if o["impossible"]]
    return {"n": len(outcomes), "answerable": len(ans), "unanswerable": len(imp),
            "answered_cited": _mean([o["ok"] for o in ans]),
            "abstained": _mean([o["ok"] for o in imp]), "f1": _mean([o["f1"] for o in ans])}


# -- Sapient ----------------------------------------------------------------------------


class Recorder:
    """An agent plugin that keeps the composed answer's details (score, sentences)."""

    def __init__(self) -> None:
        self.last: dict[str, Any] | None = None

    from sapient import hookimpl

    @hookimpl(wrapper=True)
    def call_model(self, request: Any) -> Any:
        response = yield
        raw = response.raw if isinstance(response.raw, dict) else {}
        if "composed" in raw:
            self.last = raw["composed"]
        return response


def build_index(host: Any, article: dict[str, Any]) -> Any:
    from sapient.plugins.retrieval import DocumentIndex

    index = DocumentIndex.create(host.settings.index_dir(article["slug"]), overwrite=True,
                                 settings=host.settings, host=host)
    ids, texts = zip(*article["paragraphs"], strict=True)
    index.add_texts(list(texts), ids=list(ids))
    index.save()
    return index


def run_sapient(host: Any, article: dict[str, Any], questions: list[dict[str, Any]],
                progress: Any) -> list[dict[str, Any]]:
    """Each question through an Agent on the default model; the composed details kept."""
    from sapient import Agent

    recorder = Recorder()
    agent = Agent(host.llm(), tools=["search_documents"], host=host, plugins=[recorder],
                  max_steps=3)
    rows = []
    for q in questions:
        recorder.last = None
        result = agent.run(q["question"])
        rows.append({"q": q, "answer": result.answer, "composed": recorder.last})
        progress()
    return rows


def recompose(row: dict[str, Any], threshold: float) -> tuple[str | None, bool, set[str]]:
    """The answer the composer gives at ``threshold`` (its sentences are recorded)."""
    composed = row["composed"] or {}
    ranked = composed.get("ranked") or []
    if not ranked or ranked[0][2] < threshold or composed.get("unstated"):
        return None, True, set()
    chosen = [ranked[0]]
    if len(ranked) > 1 and ranked[1][2] >= threshold and ranked[1][0] != ranked[0][0] and \
            len(ranked[0][0].split()) + len(ranked[1][0].split()) <= MAX_WORDS:
        chosen.append(ranked[1])
    return " ".join(f"{t} [{s}]" for t, s, _ in chosen), False, {s for _, s, _ in chosen}


def sapient_outcomes(rows: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    return [score(r["q"], *recompose(r, threshold)) for r in rows]


# -- peers ----------------------------------------------------------------------------


def peer_subset(questions: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    ans = [q for q in questions if not q["impossible"]]
    imp = [q for q in questions if q["impossible"]]
    return rng.sample(ans, min(len(ans), n // 2)) + rng.sample(imp, min(len(imp), n - n // 2))


def run_bundled(host: Any, questions: list[dict[str, Any]], progress: Any) -> list[dict]:
    """The bundled model writes the answer from the passages the search tool returned."""
    from sapient import Message

    llm = host.llm("llamacpp:default?writes_answers=1")
    search = host.tools()["search_documents"]
    out = []
    for q in questions:
        evidence = search.function(query=q["question"])
        given = {c.source_id for c in evidence.citations}
        prompt = f"{evidence.content}\n\nQuestion: {q['question']}"
        text = llm.complete([Message.system(PEER_SYSTEM + " Cite the passage id in square "
                                            "brackets."), Message.user(prompt)],
                            max_tokens=80).text or ""
        out.append(score(q, text, peer_abstains(text), given))
        progress()
    return out


def run_langchain(host: Any, index: Any, questions: list[dict[str, Any]],
                  progress: Any) -> list[dict]:
    """LangChain's standard retrieval chain over Sapient's index, same GGUF model."""
    from langchain_classic.chains import create_retrieval_chain
    from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    from langchain_community.llms import LlamaCpp
    from langchain_core.prompts import ChatPromptTemplate
    from sapient.connectors.langchain import as_retriever

    path = host.llm("llamacpp:default").model_path
    llm = LlamaCpp(model_path=str(path), n_ctx=4096, temperature=0.0, max_tokens=80,
                   verbose=False)
    prompt = ChatPromptTemplate.from_messages([("system", PEER_SYSTEM + "\n\n{context}"),
                                               ("human", "{input}")])
    chain = create_retrieval_chain(as_retriever(index, k=5),
                                   create_stuff_documents_chain(llm, prompt))
    out = []
    for q in questions:
        result = chain.invoke({"input": q["question"]})
        given = {d.metadata.get("id") or d.metadata.get("chunk_id") or d.metadata.get("doc_id")
                 for d in result.get("context", [])}
        text = str(result.get("answer") or "")
        out.append(score(q, text, peer_abstains(text), {g for g in given if g}))
        progress()
    return out


# -- the run ------------------------------------------------------------------------------


def sweep(rows_by_article: dict[str, list[dict]], grid: list[float]) -> list[dict[str, Any]]:
    out = []
    for t in grid:
        by = {a: summary(sapient_outcomes(rows, t)) for a, rows in rows_by_article.items()}
        out.append({"threshold": round(t, 3),
                    "by_article": {a: {"answered_cited": s["answered_cited"],
                                       "abstained": s["abstained"]} for a, s in by.items()}})
    return out


def choose_threshold(points: list[dict[str, Any]], article: str) -> float:
    """The equal-error threshold on ``article``: where the answered-and-cited share of
    the answerable half meets the abstained share of the other half (ties: the higher
    mean). A corner (abstain on nearly everything) can have a higher mean of the two
    shares but is no use; the crossing point is the usual operating point of a
    detector whose two errors matter alike."""
    def key(p: dict[str, Any]) -> tuple[float, float]:
        s = p["by_article"][article]
        a, b = s["answered_cited"] or 0.0, s["abstained"] or 0.0
        return (abs(a - b), -(a + b))

    return min(points, key=key)["threshold"]


def progress_bar(total: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="q", file=sys.stderr, leave=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SQuAD 2.0 JSON file")
    p.add_argument("--modes", default="sapient,bundled_llm,langchain")
    p.add_argument("--limit", type=int, default=0,
                   help="questions per article for every mode (0: all; fixed seed)")
    p.add_argument("--peer-limit", type=int, default=60,
                   help="questions per article for the peers (half answerable; fixed seed; "
                   "0: every question, about 5 hours on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--home", type=Path, default=None, help="where indexes go (default: temp)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    return p.parse_args(argv)


def run_article(host: Any, art: dict[str, Any], args: argparse.Namespace,
                modes: list[str]) -> tuple[list[dict], dict[str, list[dict]], dict[str, float],
                                           set[str]]:
    questions = art["questions"]
    if args.limit:
        questions = peer_subset(questions, args.limit, args.seed)
    peers = peer_subset(questions, args.peer_limit, args.seed) if args.peer_limit else questions
    index = build_index(host, art)
    rows, peer_out, seconds = [], {}, {}
    if "sapient" in modes:
        bar, t = progress_bar(len(questions), f"{art['slug']} sapient"), time.perf_counter()
        rows = run_sapient(host, art, questions, bar.update)
        seconds["sapient"] = (time.perf_counter() - t) / max(1, len(questions))
        bar.close()
    for mode, fn in (("bundled_llm", lambda cb: run_bundled(host, peers, cb)),
                     ("langchain", lambda cb: run_langchain(host, index, peers, cb))):
        if mode in modes:
            bar, t = progress_bar(len(peers), f"{art['slug']} {mode}"), time.perf_counter()
            peer_out[mode] = fn(bar.update)
            seconds[mode] = (time.perf_counter() - t) / max(1, len(peers))
            bar.close()
    return rows, peer_out, seconds, {q["id"] for q in peers}


def report(figures: dict[str, Any]) -> None:
    print(f"Grounded QA on SQuAD 2.0 ({figures['n']} questions); threshold "
          f"{figures['threshold']} chosen on {CHOSEN_ON}; peers on "
          + (f"{figures['peer_subset']} questions per article (fixed seed)."
             if figures["peer_subset"] else "every question."))
    print(f"{'article':34} {'mode':12} {'n':>4} {'answered+cited':>15} {'abstained':>10} "
          f"{'F1':>6} {'s/q':>6}")
    for art, modes in figures["by_article"].items():
        for mode, s in modes.items():
            print(f"{art[:34]:34} {mode:12} {s['n']:>4} {_fmt(s['answered_cited']):>15} "
                  f"{_fmt(s['abstained']):>10} {_fmt(s['f1']):>6} {s.get('s_per_q', 0):>6.2f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from sapient import Host, Settings

    if not args.data.is_file():
        print(f"error: no SQuAD 2.0 file at {args.data}; pass --data FILE.", file=sys.stderr)
        return 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    home = args.home or Path(tempfile.mkdtemp(prefix="sapient-grounded-qa-"))
    # The composer never abstains here (-1): the sweep re-applies each threshold to the
    # recorded sentence scores, which gives exactly the answer that threshold would give.
    try:
        articles = load(args.data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not any(a["questions"] for a in articles):
        print(f"error: {args.data} has no questions; pass SQuAD 2.0 JSON with --data.",
              file=sys.stderr)
        return 2
    rows_by_article: dict[str, list[dict]] = {}
    peers: dict[str, dict[str, list[dict]]] = {}
    speed: dict[str, dict[str, float]] = {}
    subset: dict[str, set[str]] = {}
    for art in articles:  # one host per article: its search tool reads that index
        host = Host(Settings(home=home, llm="llamacpp:default", index=art["slug"],
                             extra={"answer_min_score": -1.0}))
        rows, peer_out, seconds, subset[art["title"]] = run_article(host, art, args, modes)
        rows_by_article[art["title"]], peers[art["title"]] = rows, peer_out
        speed[art["title"]] = seconds
    grid = [round(0.30 + 0.01 * i, 2) for i in range(51)]
    points = sweep(rows_by_article, grid) if "sapient" in modes else []
    chosen_on = CHOSEN_ON if CHOSEN_ON in rows_by_article else next(iter(rows_by_article))
    threshold = choose_threshold(points, chosen_on) if points else None
    by_article: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[dict]] = collections.defaultdict(list)
    for title in rows_by_article:
        by_article[title] = {}
        if points:
            outcomes = sapient_outcomes(rows_by_article[title], threshold)
            by_article[title]["sapient"] = summary(outcomes)
            totals["sapient"] += outcomes
            if peers[title]:
                mine = [o for o, r in zip(outcomes, rows_by_article[title], strict=True)
                        if r["q"]["id"] in subset[title]]
                by_article[title]["sapient@subset"] = summary(mine)
                totals["sapient@subset"] += mine
        for mode, outcomes in peers[title].items():
            by_article[title][mode] = summary(outcomes)
            totals[mode] += outcomes
        for mode, s in by_article[title].items():
            s["s_per_q"] = round(speed[title].get(mode, 0.0), 3)
    figures = {"n": sum(len(r) for r in rows_by_article.values()) or
               sum(len(v) for p in peers.values() for v in p.values()),
               "modes": {m: {k: summary(o)[k] for k in ("answered_cited", "abstained", "f1", "n")}
                         for m, o in totals.items()},
               "by_article": by_article, "sweep": points, "threshold": threshold,
               "threshold_chosen_on": chosen_on, "peer_subset": args.peer_limit,
               "seed": args.seed, "rule": "containment of a gold span in <= 50 words, "
               "citing its paragraph; F1 on tokens (SQuAD normalisation)"}
    report(figures)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
