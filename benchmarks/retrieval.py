"""Retrieval benchmark: Sapient's DocumentIndex beside LangChain's EnsembleRetriever.

Measured in one run, same machine, same embedding model (all-MiniLM-L6-v2), same
vectors for both systems:

1. Quality on SciFact (BEIR layout): nDCG@10 and Recall@100 of Sapient BM25, dense and
   hybrid (RRF), and of LangChain's EnsembleRetriever (BM25Retriever + FAISS store,
   RRF). ``--split`` picks ``qrels/<split>.tsv`` (the shared data has ``train``).
2. Query latency p50/p95 on SciFact, end to end (query embedding included) and
   search only (precomputed query vectors), top-10.
3. Ingest overhead: Sapient ``add_texts`` + ``save`` vs raw
   ``SentenceTransformer.encode`` on the same texts (first ``--ingest-docs`` abstracts).
4. Speed at 100k documents: synthetic texts (words drawn from SciFact's word
   frequencies) with precomputed random unit vectors shared by both systems, query
   vectors precomputed too, so only search is timed.
5. FAISS exact (IndexFlatIP) vs HNSW at 1M random vectors: latency and recall@10
   against exact, at several efSearch values. To keep the build to a few minutes on
   2 cores the default is d=32, M=16, efConstruction=40 (``--ann-*`` options).
6. Abstention threshold calibration on the shipped sample documents.
7. With ``--store SPEC`` (e.g. ``milvus:./bench.db``): the same corpus vectors copied
   into that document store; nDCG@10 (hybrid, dense, BM25) and search-only query
   p50/p95 beside the FAISS store, queries interleaved.

Corpus embeddings are cached under ``--cache-dir`` keyed by a hash of model and
texts, so a second run skips the minutes of encoding.

Usage::

    python benchmarks/retrieval.py --data ../shared/data/beir/scifact --split train --json
    python benchmarks/retrieval.py --quick        # smaller ingest/100k/1M sections
    python benchmarks/retrieval.py --sections quality --store milvus:/tmp/bench.db --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "beir" / "scifact"
SAMPLE_DOCS = ROOT / "plugins" / "demo" / "data" / "docs"

# Questions for the abstention calibration: answerable from plugins/demo/data/docs, and not.
ON_TOPIC = [
    "How long is the warranty?", "What does error E-204 mean?",
    "How much does the Aurora X2 cost?", "Where is customer data stored?",
    "What is the API rate limit on the Estate plan?", "Who founded Lumora Labs?",
    "When was firmware 3.4.0 released?", "How do I reset the controller to factory settings?",
    "What are the support hours?", "How much recycled aluminium is in the enclosure?",
    "Can I return a product?", "Which Wi-Fi bands are supported?",
    "How many devices does the free plan allow?", "What is the phone number for support?",
    "How long does the battery keep logging during a power cut?",
    "What is the bug bounty reward?", "How do I get an API token?",
    "What does a blinking red light mean?", "How many employees does Lumora have?",
    "What was the revenue in 2024?", "Does the controller work without internet?",
    "How much water do moisture-based schedules save?", "What certifications does Lumora hold?",
    "What is in the box?",
]
OFF_TOPIC = [
    "What is the capital of Australia?", "Who won the 2018 football World Cup?",
    "How do I bake sourdough bread?", "What is the boiling point of mercury?",
    "Explain quantum entanglement.", "Best hiking trails in Patagonia?",
    "What is the plot of Hamlet?", "How many moons does Jupiter have?",
    "Recommend a good sci-fi novel.", "What is the stock price of Apple today?",
    "How do vaccines train the immune system?", "What's the weather in Tokyo tomorrow?",
    "Who painted the Mona Lisa?", "How do I change a flat bicycle tyre?",
    "What is the tallest mountain in Africa?", "Translate 'good morning' into Japanese.",
    "What are the rules of cricket?", "How does a diesel engine work?",
    "Who was the first person on the Moon?", "What is a good recipe for lasagne?",
    "How many players are on a basketball team?", "What causes the northern lights?",
    "How do I learn to play the guitar?", "When did the Roman Empire fall?",
]


# -- data --------------------------------------------------------------------------


def load_scifact(data: Path, split: str) -> tuple[list[str], list[str], dict[str, str],
                                                  dict[str, dict[str, int]]]:
    qrels_path = data / "qrels" / f"{split}.tsv"
    for p in (data / "corpus.jsonl", data / "queries.jsonl"):
        if not p.is_file():
            sys.exit(f"error: {p} not found. Pass --data DIR with a BEIR-layout SciFact folder "
                     "(corpus.jsonl, queries.jsonl, qrels/<split>.tsv).")
    if not qrels_path.is_file():
        have = sorted(p.stem for p in (data / "qrels").glob("*.tsv"))
        sys.exit(f"error: no qrels for split '{split}' ({qrels_path} is missing). "
                 f"Available splits: {', '.join(have) or 'none'}. Use --split "
                 f"{have[0] if have else 'train'}.")
    ids, texts = [], []
    with open(data / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            ids.append(str(d["_id"]))
            texts.append((d.get("title", "") + " " + d.get("text", "")).strip())
    queries = {}
    with open(data / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            queries[str(d["_id"])] = d["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            q, doc, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(q, {})[doc] = int(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    return ids, texts, queries, qrels


def cached_embeddings(embedder: Any, texts: list[str], cache_dir: Path, tag: str) -> np.ndarray:
    h = hashlib.sha256(embedder.name.encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    path = cache_dir / f"{tag}-{h.hexdigest()[:20]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    t0 = time.perf_counter()
    vecs = embedder.embed(texts)
    print(f"  embedded {len(texts)} {tag} texts in {time.perf_counter() - t0:.0f} s (cached "
          f"at {path})", file=sys.stderr)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs, allow_pickle=False)
    return vecs


# -- metrics -----------------------------------------------------------------------


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


# -- LangChain peer ----------------------------------------------------------------


def make_lc_embeddings(embedder: Any, cache: dict[str, np.ndarray]) -> Any:
    from langchain_core.embeddings import Embeddings

    class SameModel(Embeddings):
        """Our MiniLM embedder as LangChain Embeddings; ``cache`` holds precomputed vectors."""

        use_cache = True

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts)).tolist()

        def embed_query(self, text: str) -> list[float]:
            if self.use_cache and text in cache:
                return cache[text].tolist()
            return embedder.embed([text])[0].tolist()

    return SameModel()


def build_langchain(texts: list[str], ids: list[str], vecs: np.ndarray, emb: Any, k: int) -> Any:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS

    metas = [{"id": i} for i in ids]
    bm25 = BM25Retriever.from_texts(texts, metadatas=metas, k=k)
    store = FAISS.from_embeddings(list(zip(texts, vecs.tolist(), strict=True)), emb,
                                  metadatas=metas)
    return EnsembleRetriever(retrievers=[bm25, store.as_retriever(search_kwargs={"k": k})],
                             weights=[0.5, 0.5], id_key="id")


def lc_ids(retriever: Any, query: str) -> list[str]:
    return [d.metadata["id"] for d in retriever.invoke(query)]


# -- sections ----------------------------------------------------------------------


def quality(ids, texts, queries, qrels, doc_vecs, q_vecs, embedder, emb_lc) -> dict[str, Any]:
    from sapient.plugins.retrieval import DocumentIndex

    idx = DocumentIndex(embedder)
    idx.add_texts(texts, ids=ids, embeddings=doc_vecs)
    lc = build_langchain(texts, ids, doc_vecs, emb_lc, k=100)
    ndcg: dict[str, list[float]] = {m: [] for m in ("bm25", "dense", "hybrid",
                                                    "langchain_ensemble")}
    rec: dict[str, list[float]] = {m: [] for m in ndcg}
    for (qid, qtext), qv in zip(queries.items(), q_vecs, strict=True):
        rel = qrels[qid]
        for mode in ("bm25", "dense", "hybrid"):
            ranked = [h.id for h in idx.search(qtext, k=100, mode=mode, query_vector=qv)]
            ndcg[mode].append(ndcg_at(ranked, rel))
            rec[mode].append(recall_at(ranked, rel))
        ranked = lc_ids(lc, qtext)[:100]
        ndcg["langchain_ensemble"].append(ndcg_at(ranked, rel))
        rec["langchain_ensemble"].append(recall_at(ranked, rel))
    return {"ndcg10": {m: round(float(np.mean(v)), 4) for m, v in ndcg.items()},
            "recall100": {m: round(float(np.mean(v)), 4) for m, v in rec.items()},
            "index": idx}


def latency(idx, ids, texts, doc_vecs, queries, q_vecs, embedder, emb_lc, n: int
            ) -> dict[str, Any]:
    lc = build_langchain(texts, ids, doc_vecs, emb_lc, k=10)
    qs = list(queries.values())[:n]
    qv = q_vecs[:n]
    out: dict[str, Any] = {}
    for label, cached in (("end_to_end", False), ("search_only", True)):
        emb_lc.use_cache = cached
        ours, theirs = [], []
        for i, q in enumerate(qs):  # interleaved, so background load hits both alike
            t = time.perf_counter()
            idx.search(q, k=10, query_vector=qv[i] if cached else None)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            lc.invoke(q)
            theirs.append(time.perf_counter() - t)
        out[label] = {"sapient_hybrid": (pct(ours, 50), pct(ours, 95)),
                      "langchain_ensemble": (pct(theirs, 50), pct(theirs, 95))}
    emb_lc.use_cache = True
    return out


def ingest_overhead(texts: list[str], embedder: Any, repeats: int = 2) -> dict[str, float]:
    from sapient.plugins.retrieval import DocumentIndex

    model = embedder.model
    model.encode(texts[:32], batch_size=64, normalize_embeddings=True)  # warm-up
    raw, ours, raw_cpu, ours_cpu = [], [], [], []
    for r in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        raw.append(time.perf_counter() - t)
        raw_cpu.append(time.process_time() - c)
        with tempfile.TemporaryDirectory() as tmp:
            t, c = time.perf_counter(), time.process_time()
            idx = DocumentIndex.create(Path(tmp) / f"ix{r}", embedder)
            idx.add_texts(texts, ids=[f"d{i}" for i in range(len(texts))])
            idx.save()
            ours.append(time.perf_counter() - t)
            ours_cpu.append(time.process_time() - c)
    # CPU time of this process is the robust figure on a shared machine: wall time
    # also counts whatever else the cores were doing. Both are reported.
    return {"docs": len(texts), "raw_encode_s": min(raw), "sapient_ingest_s": min(ours),
            "raw_encode_cpu_s": min(raw_cpu), "sapient_ingest_cpu_s": min(ours_cpu),
            "ratio_wall": min(ours) / min(raw), "ratio": min(ours_cpu) / min(raw_cpu)}


def synthetic(texts: list[str], queries: list[str], n_docs: int, embedder: Any, n_q: int,
              seed: int = 0) -> dict[str, Any]:
    from sapient.connectors.faiss._bm25 import _bm25s
    from sapient.plugins.retrieval import DocumentIndex

    rng = np.random.default_rng(seed)
    words = Counter(w for t in texts for w in t.split())
    vocab = list(words)
    p = np.asarray([words[w] for w in vocab], dtype=np.float64)
    p /= p.sum()
    lengths = rng.integers(40, 120, size=n_docs)
    draws = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    docs, pos = [], 0
    for n in lengths:
        docs.append(" ".join(vocab[j] for j in draws[pos:pos + n]))
        pos += n
    dim = 384
    vecs = rng.standard_normal((n_docs, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    qs = queries[:n_q]
    qv = rng.standard_normal((len(qs), dim)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    ids = [f"s{i}" for i in range(n_docs)]
    _bm25s()
    t = time.perf_counter()
    idx = DocumentIndex(embedder)
    idx.add_texts(docs, ids=ids, embeddings=vecs)
    idx.search(qs[0], k=10, query_vector=qv[0])  # builds BM25
    ours_build = time.perf_counter() - t
    emb_lc = make_lc_embeddings(embedder, dict(zip(qs, qv, strict=True)))
    t = time.perf_counter()
    lc = build_langchain(docs, ids, vecs, emb_lc, k=10)
    lc_build = time.perf_counter() - t
    ours, theirs = [], []
    for i, q in enumerate(qs):
        t = time.perf_counter()
        idx.search(q, k=10, query_vector=qv[i])
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        lc.invoke(q)
        theirs.append(time.perf_counter() - t)
    return {"docs": n_docs, "queries": len(qs), "vector_index": idx.vector_index_kind,
            "sapient_build_s": ours_build, "langchain_build_s": lc_build,
            "sapient_hybrid": (pct(ours, 50), pct(ours, 95)),
            "langchain_ensemble": (pct(theirs, 50), pct(theirs, 95)),
            "speedup_p50": pct(theirs, 50) / pct(ours, 50)}


def ann(n: int, dim: int, n_q: int, m: int, efc: int, build_threads: int, seed: int = 1
        ) -> dict[str, Any]:
    import faiss
    from sapient.connectors.faiss import _vectors

    rng = np.random.default_rng(seed)
    xb = rng.standard_normal((n, dim)).astype(np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = rng.standard_normal((n_q, dim)).astype(np.float32)
    xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64)
    t = time.perf_counter()
    flat = _vectors.make_faiss_index("flat", dim)
    flat.add_with_ids(xb, ids)
    flat_build = time.perf_counter() - t
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(build_threads)
    t = time.perf_counter()
    hnsw = _vectors.make_faiss_index("hnsw", dim, m=m, ef_construction=efc)
    hnsw.add_with_ids(xb, ids)
    hnsw_build = time.perf_counter() - t
    faiss.omp_set_num_threads(threads)
    truth, flat_t = [], []
    for q in xq:
        t = time.perf_counter()
        _, i = flat.search(q[None], 10)
        flat_t.append(time.perf_counter() - t)
        truth.append(set(i[0].tolist()))
    out: dict[str, Any] = {"vectors": n, "dim": dim, "queries": n_q,
                           "hnsw": {"M": m, "efConstruction": efc,
                                    "build_threads": build_threads},
                           "flat_build_s": flat_build, "hnsw_build_s": hnsw_build,
                           "flat_p50_ms": pct(flat_t, 50), "flat_p95_ms": pct(flat_t, 95),
                           "ef": {}}
    for ef in (32, _vectors.HNSW_EF_SEARCH, 256):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        times, rec = [], []
        for q, tr in zip(xq, truth, strict=True):
            t = time.perf_counter()
            _, i = hnsw.search(q[None], 10, params=params)
            times.append(time.perf_counter() - t)
            rec.append(len(tr & set(i[0].tolist())) / 10)
        out["ef"][ef] = {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95),
                         "recall10": float(np.mean(rec))}
    return out


def calibrate(embedder: Any, idx_scifact: Any, q_vecs: np.ndarray) -> dict[str, Any]:
    from sapient.plugins.retrieval import DocumentIndex
    from sapient.plugins.retrieval._tool import DEFAULT_MIN_SCORE

    idx = DocumentIndex(embedder)
    idx.ingest(SAMPLE_DOCS)

    def best(index: Any, q: str, qv: Any = None) -> float:
        hits = index.search(q, k=5, query_vector=qv)
        return max((h.dense_score for h in hits), default=0.0)

    on = [best(idx, q) for q in ON_TOPIC]
    off = [best(idx, q) for q in OFF_TOPIC]
    grid = np.round(np.arange(0.05, 0.70, 0.01), 2)
    bal = [(np.mean(np.asarray(on) >= t) + np.mean(np.asarray(off) < t)) / 2 for t in grid]
    top = max(bal)
    best_ts = [float(t) for t, b in zip(grid, bal, strict=True) if b == top]
    chosen = round((best_ts[0] + best_ts[-1]) / 2, 2)
    sci_on = [best(idx_scifact, "q", qv) for qv in q_vecs]
    sci_off = [best(idx_scifact, q) for q in ON_TOPIC]
    t = DEFAULT_MIN_SCORE
    return {"on_topic_best": [round(x, 3) for x in sorted(on)],
            "off_topic_best": [round(x, 3) for x in sorted(off)],
            "best_range": [best_ts[0], best_ts[-1]], "suggested": chosen,
            "balanced_accuracy": round(float(top), 3), "threshold": t,
            "sample_answered": float(np.mean(np.asarray(on) >= t)),
            "sample_abstained_off_topic": float(np.mean(np.asarray(off) < t)),
            "scifact_answered": float(np.mean(np.asarray(sci_on) >= t)),
            "scifact_abstained_foreign": float(np.mean(np.asarray(sci_off) < t))}


def store_comparison(spec: str, idx: Any, ids: list[str], texts: list[str],
                     doc_vecs: np.ndarray, queries: dict[str, str],
                     qrels: dict[str, dict[str, int]], q_vecs: np.ndarray, n_latency: int
                     ) -> dict[str, Any]:
    """The FAISS index ``idx`` beside the same vectors in the store ``spec``."""
    from sapient.plugins.retrieval import DocumentIndex
    from sapient.plugins.retrieval._stores import index_store_spec, open_store_spec

    spec = str(index_store_spec(None, "scifact_bench", spec))
    store = open_store_spec(spec)
    if hasattr(store, "drop"):
        store.drop()  # a fresh collection each run
    other = DocumentIndex(idx.embedder, store=store)
    t = time.perf_counter()
    other.add_texts(texts, ids=ids, embeddings=doc_vecs)
    other.save()
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"store": spec, "load_s": round(load_s, 1), "ndcg10": {},
                           "p50_ms": {}, "p95_ms": {}, "top1_agreement": {}}
    for mode in ("hybrid", "dense", "bm25"):
        scores: dict[str, list[float]] = {"faiss": [], "other": []}
        times: dict[str, list[float]] = {"faiss": [], "other": []}
        agree = 0
        for n, ((qid, qtext), qv) in enumerate(zip(queries.items(), q_vecs, strict=True)):
            tops = {}
            for name, index in (("faiss", idx), ("other", other)):  # interleaved
                t = time.perf_counter()
                hits = index.search(qtext, k=10, mode=mode, query_vector=qv)
                if n < n_latency:
                    times[name].append(time.perf_counter() - t)
                ranked = [h.id for h in hits]
                scores[name].append(ndcg_at(ranked, qrels[qid]))
                tops[name] = ranked[:1]
            agree += tops["faiss"] == tops["other"]
        out["ndcg10"][mode] = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
        out["p50_ms"][mode] = {k: round(pct(v, 50), 2) for k, v in times.items()}
        out["p95_ms"][mode] = {k: round(pct(v, 95), 2) for k, v in times.items()}
        out["top1_agreement"][mode] = round(agree / len(queries), 4)
    out["explain"] = explain_store_gap(idx, other, ids, texts, queries, qrels, q_vecs)
    other.close()
    return out


def explain_store_gap(idx: Any, other: Any, ids: list[str], texts: list[str],
                      queries: dict[str, str], qrels: dict[str, dict[str, int]],
                      q_vecs: np.ndarray) -> dict[str, Any]:
    """Where an nDCG gap between the FAISS store and ``other`` comes from, same run.

    1. Fusion: ``other``'s own dense and BM25 top-50 fused here with our RRF (k=60);
       equal to its server-side hybrid nDCG means the fusion is the same and any gap
       comes from the two lists.
    2. Analyzer: the FAISS store's BM25 (bm25s) rebuilt without stemming (Milvus Lite
       3 ignores the stemmer filter), alone and fused with the FAISS dense list.
    3. Dense: mean overlap of the two stores' dense top-10 (1.0: same neighbours).
    """
    from sapient.connectors.docstore import RRF_K
    from sapient.connectors.faiss._bm25 import BM25Index

    def rrf(*lists: list[str]) -> list[str]:
        fused: dict[str, float] = {}
        for order in lists:
            for rank, cid in enumerate(order, start=1):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        return [c for c, _ in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))]

    plain = BM25Index(stemmer=None)
    plain.build(texts)
    scores: dict[str, list[float]] = {"other_client_rrf": [], "faiss_bm25_unstemmed": [],
                                      "faiss_hybrid_unstemmed": []}
    overlap = []
    for (qid, qtext), qv in zip(queries.items(), q_vecs, strict=True):
        o_dense = [h.id for h in other.search(qtext, k=50, mode="dense", query_vector=qv)]
        o_bm25 = [h.id for h in other.search(qtext, k=50, mode="bm25", query_vector=qv)]
        f_dense = [h.id for h in idx.search(qtext, k=50, mode="dense", query_vector=qv)]
        _, rows = plain.search(qtext, 50)
        f_plain = [ids[int(r)] for r in rows]
        scores["other_client_rrf"].append(ndcg_at(rrf(o_dense, o_bm25), qrels[qid]))
        scores["faiss_bm25_unstemmed"].append(ndcg_at(f_plain, qrels[qid]))
        scores["faiss_hybrid_unstemmed"].append(ndcg_at(rrf(f_dense, f_plain), qrels[qid]))
        overlap.append(len(set(o_dense[:10]) & set(f_dense[:10])) / 10)
    out = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    out["dense_top10_overlap"] = round(float(np.mean(overlap)), 4)
    return out


def print_stores(con: Any, st: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"Document stores on the same vectors: FAISS vs {st['store']} "
                    f"(search only, top-10; loading took {st['load_s']} s)")
    for c in ("mode", "nDCG@10 FAISS", "nDCG@10 other", "p50 ms FAISS", "p50 ms other",
              "top-1 same"):
        t.add_column(c, justify="right" if c != "mode" else "left")
    for mode in ("hybrid", "dense", "bm25"):
        n, p = st["ndcg10"][mode], st["p50_ms"][mode]
        t.add_row(mode, f"{n['faiss']:.4f}", f"{n['other']:.4f}", f"{p['faiss']:.2f}",
                  f"{p['other']:.2f}", f"{st['top1_agreement'][mode]:.1%}")
    con.print(t)
    e = st.get("explain")
    if e:
        con.print(f"Gap analysis: {st['store']} dense+BM25 fused here with our RRF "
                  f"{e['other_client_rrf']:.4f} (its own hybrid "
                  f"{st['ndcg10']['hybrid']['other']:.4f}); FAISS store's bm25s without "
                  f"stemming: BM25 {e['faiss_bm25_unstemmed']:.4f}, hybrid "
                  f"{e['faiss_hybrid_unstemmed']:.4f}; dense top-10 overlap "
                  f"{e['dense_top10_overlap']:.1%}")


def print_latency(con: Any, lat: dict[str, Any], n: int) -> None:
    from rich.table import Table

    t = Table(title=f"Query latency, top-10, SciFact ({n} queries), ms")
    for c in ("", "p50", "p95", "p50 search only", "p95 search only"):
        t.add_column(c, justify="right" if c else "left")
    for m in ("sapient_hybrid", "langchain_ensemble"):
        e, s = lat["end_to_end"][m], lat["search_only"][m]
        t.add_row(m, f"{e[0]:.2f}", f"{e[1]:.2f}", f"{s[0]:.2f}", f"{s[1]:.2f}")
    con.print(t)


# -- main --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="SciFact folder in BEIR layout (default: ../shared/data/beir/scifact)")
    ap.add_argument("--split", default="train", help="qrels split: train or test")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    ap.add_argument("--quick", action="store_true",
                    help="bounded run: 300 ingest docs, 20k synthetic docs, 100k ANN vectors")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path.home() / ".cache" / "sapient" / "benchmarks")
    ap.add_argument("--threads", type=int, default=1, help="torch and FAISS threads")
    ap.add_argument("--ingest-docs", type=int, default=None)
    ap.add_argument("--synthetic-docs", type=int, default=None)
    ap.add_argument("--ann-vectors", type=int, default=None)
    ap.add_argument("--ann-dim", type=int, default=32)
    ap.add_argument("--ann-m", type=int, default=16, help="HNSW links per node for the ANN test")
    ap.add_argument("--ann-ef-construction", type=int, default=40)
    ap.add_argument("--ann-build-threads", type=int, default=2)
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--sections", default="quality,latency,ingest,synthetic,ann,calibrate",
                    help="comma list of sections to run (default: all)")
    ap.add_argument("--store", default=None, metavar="SPEC",
                    help="also load the corpus into this document store (e.g. "
                         "milvus:/tmp/bench.db) and compare it with the FAISS store")
    args = ap.parse_args(argv)
    run = {s.strip() for s in args.sections.split(",") if s.strip()}
    if args.store:
        run.add("stores")
    ingest_n = args.ingest_docs or (300 if args.quick else 1000)
    synth_n = args.synthetic_docs or (20_000 if args.quick else 100_000)
    ann_n = args.ann_vectors or (100_000 if args.quick else 1_000_000)

    ids, texts, queries, qrels = load_scifact(args.data, args.split)
    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    from sapient.connectors.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    print(f"SciFact: {len(texts)} documents, {len(queries)} {args.split} queries; "
          f"{args.threads} thread(s)", file=sys.stderr)
    qtexts = list(queries.values())
    q = lat = ing = syn = ann_r = cal = st = None
    if run & {"quality", "latency", "calibrate", "stores"}:
        doc_vecs = cached_embeddings(embedder, texts, args.cache_dir, "scifact-corpus")
        q_vecs = cached_embeddings(embedder, qtexts, args.cache_dir,
                                   f"scifact-{args.split}-queries")
        emb_lc = make_lc_embeddings(embedder, dict(zip(qtexts, q_vecs, strict=True)))
        if run & {"quality", "latency"}:
            print("quality ...", file=sys.stderr)
            q = quality(ids, texts, queries, qrels, doc_vecs, q_vecs, embedder, emb_lc)
            idx = q.pop("index")
        else:
            from sapient.plugins.retrieval import DocumentIndex

            idx = DocumentIndex(embedder)
            idx.add_texts(texts, ids=ids, embeddings=doc_vecs)
    if "stores" in run:
        print(f"document store {args.store} beside FAISS ...", file=sys.stderr)
        st = store_comparison(args.store, idx, ids, texts, doc_vecs, queries, qrels, q_vecs,
                              args.latency_queries)
    if "latency" in run:
        print("latency ...", file=sys.stderr)
        lat = latency(idx, ids, texts, doc_vecs, queries, q_vecs, embedder, emb_lc,
                      args.latency_queries)
    if "ingest" in run:
        print(f"ingest overhead on {ingest_n} abstracts ...", file=sys.stderr)
        ing = ingest_overhead(texts[:ingest_n], embedder)
    if "synthetic" in run:
        print(f"synthetic {synth_n} documents ...", file=sys.stderr)
        syn = synthetic(texts, qtexts, synth_n, embedder, n_q=100)
    if "ann" in run:
        print(f"FAISS exact vs HNSW at {ann_n} vectors ...", file=sys.stderr)
        ann_r = ann(ann_n, args.ann_dim, n_q=200, m=args.ann_m, efc=args.ann_ef_construction,
                    build_threads=args.ann_build_threads)
    if "calibrate" in run:
        print("abstention calibration ...", file=sys.stderr)
        cal = calibrate(embedder, idx, q_vecs)

    from rich.console import Console
    from rich.table import Table

    con = Console(file=sys.stdout, width=110)
    if q:
        t = Table(title=f"SciFact {args.split} ({len(queries)} queries, {len(texts)} docs)")
        t.add_column("method")
        t.add_column("nDCG@10", justify="right")
        t.add_column("Recall@100", justify="right")
        for m, label in (("bm25", "Sapient BM25 (bm25s)"), ("dense", "Sapient dense (FAISS)"),
                         ("hybrid", "Sapient hybrid (RRF)"),
                         ("langchain_ensemble", "LangChain EnsembleRetriever")):
            t.add_row(label, f"{q['ndcg10'][m]:.4f}", f"{q['recall100'][m]:.4f}")
        con.print(t)
    if lat:
        print_latency(con, lat, min(args.latency_queries, len(qtexts)))
    if ing:
        con.print(f"Ingest {ing['docs']} abstracts: raw encode {ing['raw_encode_s']:.1f} s wall"
                  f" / {ing['raw_encode_cpu_s']:.1f} s CPU, Sapient add_texts+save "
                  f"{ing['sapient_ingest_s']:.1f} s wall / {ing['sapient_ingest_cpu_s']:.1f} s "
                  f"CPU -> ratio {ing['ratio']:.3f} CPU (overhead "
                  f"{100 * (ing['ratio'] - 1):+.1f}%), {ing['ratio_wall']:.3f} wall")
    if syn:
        t = Table(title=f"Synthetic {syn['docs']} docs, {syn['queries']} queries, top-10, ms "
                        f"(Sapient vectors: {syn['vector_index']})")
        for c in ("", "p50", "p95", "build s"):
            t.add_column(c, justify="right" if c else "left")
        t.add_row("sapient_hybrid", f"{syn['sapient_hybrid'][0]:.2f}",
                  f"{syn['sapient_hybrid'][1]:.2f}", f"{syn['sapient_build_s']:.1f}")
        t.add_row("langchain_ensemble", f"{syn['langchain_ensemble'][0]:.2f}",
                  f"{syn['langchain_ensemble'][1]:.2f}", f"{syn['langchain_build_s']:.1f}")
        con.print(t)
        con.print(f"speedup at {syn['docs']} docs (p50): {syn['speedup_p50']:.1f}x")
    if ann_r:
        t = Table(title=f"FAISS at {ann_r['vectors']:,} random unit vectors, d={ann_r['dim']}, "
                        f"{ann_r['queries']} queries, 1 query per call; HNSW built with "
                        f"{ann_r['hnsw']['build_threads']} threads, efConstruction "
                        f"{ann_r['hnsw']['efConstruction']}")
        for c in ("index", "p50 ms", "p95 ms", "recall@10", "build s"):
            t.add_column(c, justify="right" if c != "index" else "left")
        t.add_row("IndexFlatIP (exact)", f"{ann_r['flat_p50_ms']:.2f}",
                  f"{ann_r['flat_p95_ms']:.2f}", "1.000", f"{ann_r['flat_build_s']:.1f}")
        for ef, r in ann_r["ef"].items():
            t.add_row(f"HNSW M={ann_r['hnsw']['M']} efSearch={ef}", f"{r['p50_ms']:.3f}",
                      f"{r['p95_ms']:.3f}", f"{r['recall10']:.3f}", f"{ann_r['hnsw_build_s']:.1f}")
        con.print(t)
    if st:
        print_stores(con, st)
    if cal:
        con.print(f"Abstention (threshold {cal['threshold']}): sample docs answered "
                  f"{cal['sample_answered']:.0%} of on-topic, abstained on "
                  f"{cal['sample_abstained_off_topic']:.0%} of off-topic; best balanced "
                  f"accuracy {cal['balanced_accuracy']} for thresholds {cal['best_range']}; "
                  f"SciFact claims answered {cal['scifact_answered']:.0%}, product questions "
                  f"on SciFact abstained {cal['scifact_abstained_foreign']:.0%}")
    if args.json:
        figures = {
            "split": args.split,
            "ndcg10": q["ndcg10"] if q else None, "recall100": q["recall100"] if q else None,
            "ingest_overhead": round(ing["ratio"], 4) if ing else None,
            "ingest_overhead_wall": round(ing["ratio_wall"], 4) if ing else None,
            "query_p50_ms": {m: round(lat["end_to_end"][m][0], 3)
                             for m in ("sapient_hybrid", "langchain_ensemble")} if lat else None,
            "query_p95_ms": {m: round(lat["end_to_end"][m][1], 3)
                             for m in ("sapient_hybrid", "langchain_ensemble")} if lat else None,
            "search_only_p50_ms": {m: round(lat["search_only"][m][0], 3)
                                   for m in ("sapient_hybrid", "langchain_ensemble")}
            if lat else None,
            "speedup_100k": round(syn["speedup_p50"], 2) if syn else None,
            "synthetic_docs": syn["docs"] if syn else None,
            "ann": ({"vectors": ann_r["vectors"], "dim": ann_r["dim"],
                     "flat_p50_ms": round(ann_r["flat_p50_ms"], 3),
                     "hnsw": {str(ef): {k: round(v, 4) for k, v in r.items()}
                              for ef, r in ann_r["ef"].items()},
                     "hnsw_params": ann_r["hnsw"],
                     "hnsw_build_s": round(ann_r["hnsw_build_s"], 1)} if ann_r else None),
            "abstention": ({k: cal[k] for k in ("threshold", "suggested", "best_range",
                                                "balanced_accuracy", "sample_answered",
                                                "sample_abstained_off_topic",
                                                "scifact_answered", "scifact_abstained_foreign",
                                                "on_topic_best", "off_topic_best")}
                           if cal else None),
            "stores": ({k: st[k] for k in ("store", "ndcg10", "p50_ms", "p95_ms",
                                           "top1_agreement", "load_s", "explain")} if st else None),
        }
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
