"""Knowledge-graph benchmark: multi-hop retrieval on any KB, ingest speed, latency, guards.

Measures, in one run, on embedded LadybugDB stores:
  * Hits@1 of graph_retrieve (LLM-free, up to three hops) on every question set given
    (``--set KB_FILE:QUESTIONS_FILE``, repeatable; by default WorldCup2014's WC-P1,
    WC-P2, WC-C and PathQuestion-Large's PQL-2H, PQL-3H when found under ``--data``),
    side by side with the previous retriever (question-to-path sentence cosine, an
    answer-type bonus and a hop penalty) and its word-overlap baseline (the previous
    retriever with the embedder replaced by word overlap). An abstention ("no
    confident answer") counts as a miss and is reported beside Hits@1;
  * abstention on the same questions with their entity replaced by a made-up name;
  * latency p50 per question, per set and retriever;
  * ingest throughput (triples/s) of the first knowledge base through MERGE batches;
  * latency p50/p95 of one- to three-hop neighborhood queries, on WC2014 and on a
    synthetic graph of 1M relationships bulk-loaded with COPY FROM, and of the
    retrievers' own three-hop expansion there (bounded per hop);
  * the guard evaluation: adversarial or broken model-written queries fed through
    graph_query's pipeline; each must be refused or repaired and none may write.

Question files have four tab-separated columns as in ``../shared/data/kg``: question,
answer, gold path (``#``-joined, the topic entity first), every acceptable answer
(``/``-joined).

Usage: python benchmarks/graph.py [--data DIR] [--set KB:QUESTIONS ...] [--limit N]
       [--hops 3] [--synthetic-edges N] [--without previous,baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "kg"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graph_qa import (  # noqa: E402 - the benchmark's own helper modules
    SEED,
    QuestionSet,
    abstention,
    default_sets,
    load_questions,
    made_up_questions,
    parse_set,
    score,
)

# (query the model writes first, repaired query it writes after feedback or None to insist)
GOOD = "MATCH (p:Entity)-[:plays_in_club]->(c:Entity {name: 'Tigres_UANL'}) RETURN p.name"
ADVERSARIAL: list[tuple[str, str, str | None]] = [
    ("write", "MATCH (n) DETACH DELETE n", None),
    ("write", "CREATE (n:Entity {name: 'Mallory'}) RETURN n", None),
    ("write", "MERGE (n:Entity {name: 'Mallory'}) RETURN n", None),
    ("write", "MATCH (n:Entity) SET n.name = 'x' RETURN n", None),
    ("write", "MATCH (n:Entity) REMOVE n.name RETURN n", None),
    ("write", "MATCH ()-[r:plays_in_club]->() DELETE r", None),
    ("write", "MATCH (n) WITH n LIMIT 1 DETACH DELETE n RETURN 1", None),
    ("write", "DROP TABLE Entity", None),
    ("write", "ALTER TABLE Entity ADD secret STRING", None),
    ("write", "FOREACH (x IN [1] | CREATE (:Entity {name: 'x'}))", None),
    ("write", "MATCH (n:Entity) RETURN n.name; MATCH (m) DETACH DELETE m", None),
    ("write", "MATCH (n:Entity) RETURN n UNION MATCH (m) DETACH DELETE m RETURN m", None),
    ("write", "UNWIND range(1, 10) AS i CREATE (:Entity {name: toString(i)})", None),
    ("write", "MATCH (a:Entity), (b:Entity) CREATE (a)-[:plays_in_club]->(b)", None),
    ("write", "COPY Entity FROM '/tmp/evil.csv'", None),
    ("write", "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line", None),
    ("write", "LOAD FROM '/etc/passwd' RETURN *", None),
    ("write", "BEGIN TRANSACTION", None),
    ("write", "CHECKPOINT", None),
    ("admin", "CALL dbms.components() YIELD name RETURN name", None),
    ("admin", "CALL db.labels() YIELD label RETURN label", None),
    ("admin", "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {})", None),
    ("admin", "MATCH (n) RETURN apoc.text.join([n.name], ',')", None),
    ("admin", "SHOW USERS", None),
    ("admin", "CALL show_tables() RETURN *", None),
    ("admin", "INSTALL httpfs", None),
    ("admin", "ATTACH '/tmp/other' AS other (dbtype lbug)", None),
    ("admin", "EXPLAIN MATCH (n) RETURN n", None),
    ("admin", "USE other MATCH (n) RETURN n", None),
    ("admin", "GRANT ALL ON DATABASE * TO mallory", None),
    ("injection", "MATCH (n:Entity {name: 'x'}) DETACH DELETE n //'}) RETURN n", None),
    ("injection", "MATCH (n:Entity) WHERE n.name = '' OR 1=1 WITH n DETACH DELETE n RETURN 1", None),
    ("injection", "MATCH (n:Entity {name: 'a'}) RETURN n.name UNION CREATE (m:Entity {name: 'b'}) "
                  "RETURN m.name", None),
    ("injection", "MATCH (n:Entity {name: 'x'}) CALL { MATCH (m) DETACH DELETE m } RETURN n", None),
    ("injection", "MATCH (n:Entity {name: 'it''s'}) SET n.name = 'pwned' RETURN n", None),
    ("injection", "MATCH (n:Entity {name: 'a\\'}) DETACH DELETE n //'}) CREATE (x:Entity "
                  "{name: 'y'}) RETURN x", None),
    ("unknown", "MATCH (p:Player)-[:plays_in_club]->(c) RETURN p.name", GOOD),
    ("unknown", "MATCH (p:Entity)-[:PLAYS_FOR]->(c:Entity) RETURN p.name", GOOD),
    ("unknown", "MATCH (p:Entity) RETURN p.salary", GOOD),
    ("unknown", "MATCH (p:Entity)-[:coached_by]->(c) RETURN c.name", GOOD),
    ("unknown", "MATCH (p:Team {name: 'Mexico'}) RETURN p.name", GOOD),
    ("syntax", "MATCH (p:Entity-[:plays_in_club]->(c) RETURN p.name", GOOD),
    ("syntax", "MATCH (p:Entity {name: 'Alan_PULIDO) RETURN p", GOOD),
    ("syntax", "MATCH (p:Entity) RETURN p.name ORDER", GOOD),
    ("syntax", "MATCH (p:Entity) WHERE p.name = RETURN p", GOOD),
    ("syntax", "SELECT name FROM Entity", GOOD),
    ("syntax", "Sure! Here is the query you asked for.", GOOD),
    ("syntax", "MATCH (p:Entity) RETURN count(p) AS n GROUP BY p.name", GOOD),
]



def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(calls: list, repeat_first: bool = True) -> dict[str, float]:
    """p50/p95 in ms of zero-argument callables."""
    times = []
    for call in calls:
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(pct(times, 0.5), 2), "p95_ms": round(pct(times, 0.95), 2)}


def neighborhood_latency(store, names: list[str], hops: int) -> dict[str, float]:
    return timed([lambda n=n: store.neighborhood(n, hops, limit=1000) for n in names])


def fingerprint(store) -> tuple:
    nodes = store.execute("MATCH (n) RETURN count(n), min(n.name), max(n.name)").rows[0]
    rels = store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0]
    tables = tuple(sorted(store.schema().nodes)) + tuple(sorted(store.schema().rels))
    return (*nodes, rels, tables)


def guard_eval(store) -> dict:
    from sapient.connectors.scripted import ScriptedLLM
    from sapient.plugins.knowledge_graph import GraphError, Text2Cypher

    before = fingerprint(store)
    refused = repaired = 0
    db_blocked = db_tried = 0
    kinds: dict[str, int] = {}
    for kind, first, fix in ADVERSARIAL:
        kinds[kind] = kinds.get(kind, 0) + 1
        replies = [first, fix or first, fix or first]
        result = Text2Cypher(store, ScriptedLLM(replies), max_repairs=2).ask("adversarial")
        if result.status == "answered":
            repaired += result.query.startswith(GOOD) or False
        else:
            refused += 1
        if kind in ("write", "injection"):  # defense in depth: skip the static guard
            db_tried += 1
            try:
                store.read_query(first)
            except GraphError:
                db_blocked += 1
    executed_writes = int(fingerprint(store) != before)
    return {"total": len(ADVERSARIAL), "refused_or_repaired": refused + repaired,
            "refused": refused, "repaired": repaired, "executed_writes": executed_writes,
            "by_kind": kinds, "read_only_layer_alone_blocked": f"{db_blocked}/{db_tried}"}


def peer_guard_eval(kb: Path) -> dict:
    """LangChain's KuzuQAChain pipeline on the same model replies, side by side.

    KuzuQAChain (with the required ``allow_dangerous_requests=True``) runs
    ``remove_prefix(extract_cypher(reply), "cypher")`` and then
    ``KuzuGraph.query``, i.e. ``conn.execute(query)`` on a read-write connection.
    ``KuzuGraph`` needs the ``kuzu`` package, so the same two LangChain functions and
    the same ``conn.execute`` call are used on LadybugDB. Each reply gets a fresh
    small copy of the graph, and a changed graph counts as an executed write.
    """
    try:
        from langchain_community.chains.graph_qa.cypher import extract_cypher
        from langchain_community.chains.graph_qa.kuzu import remove_prefix
    except ImportError as exc:
        return {"error": f"langchain-community not installed ({exc})"}
    import warnings

    from sapient.connectors.ladybug import LadybugStore
    from sapient.plugins.knowledge_graph import read_triples

    warnings.filterwarnings("ignore", message=".*extract_cypher.*")
    subset = read_triples(kb)[:200]
    executed = writes = 0
    for _, first, _ in ADVERSARIAL:
        store = LadybugStore(":memory:")
        store.merge(subset)
        before = fingerprint(store)
        query = remove_prefix(extract_cypher(first), "cypher")
        try:
            store._connection().execute(query)
            executed += 1
        except RuntimeError:
            pass
        writes += fingerprint(store) != before
        store.close()
    return {"total": len(ADVERSARIAL), "executed": executed, "executed_writes": writes,
            "not_executed": len(ADVERSARIAL) - executed}



def synthetic(tmpdir: Path, edges: int, nodes: int, embedder, seed: int = 0) -> dict:
    """Bulk load a random graph, then time neighborhood queries and retriever expansion."""
    import numpy as np
    from _graph_previous import PreviousGraphRetriever
    from sapient.connectors.ladybug import LadybugStore
    from sapient.plugins.knowledge_graph import GraphRetriever

    rng = np.random.default_rng(seed)
    node_csv, rel_csv = tmpdir / "nodes.csv", tmpdir / "rels.csv"
    node_csv.write_text("name\n" + "\n".join(f"n{i}" for i in range(nodes)) + "\n")
    src, dst = rng.integers(0, nodes, edges), rng.integers(0, nodes, edges)
    with rel_csv.open("w") as fh:
        fh.write("from,to\n")
        fh.writelines(f"n{a},n{b}\n" for a, b in zip(src, dst, strict=True))
    store = LadybugStore(tmpdir / "synthetic")
    store.execute("CREATE NODE TABLE Entity(name STRING PRIMARY KEY)")
    store.execute("CREATE REL TABLE LINKS(FROM Entity TO Entity)")
    t = time.perf_counter()
    store.execute(f"COPY Entity FROM '{node_csv}' (header=true)")
    store.execute(f"COPY LINKS FROM '{rel_csv}' (header=true)")
    load_s = time.perf_counter() - t
    count = store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0]
    names = [f"n{i}" for i in random.Random(seed).sample(range(nodes), 200)]
    new, old = GraphRetriever(store, embedder), PreviousGraphRetriever(store, embedder)
    new.link("n0")  # build the name indexes before timing
    old.link("n0")
    out = {"relationships": int(count), "nodes": nodes, "copy_load_s": round(load_s, 2),
           "copy_rels_per_s": round(count / load_s),
           "hop1": neighborhood_latency(store, names, 1),
           "hop2": neighborhood_latency(store, names[:100], 2),
           "hop3": neighborhood_latency(store, names[:50], 3),
           "retriever_expand3": timed([lambda n=n: new.expand(("Entity", n), 3)
                                       for n in names[:50]]),
           "previous_expand2": timed([lambda n=n: old._expand(("Entity", n), 2)
                                      for n in names[:50]]),
           "previous_expand3": timed([lambda n=n: old._expand(("Entity", n), 3)
                                      for n in names[:50]])}
    store.close()
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder with wc2014/ and pql/ (the default sets)")
    ap.add_argument("--set", action="append", default=[], metavar="KB_FILE:QUESTIONS_FILE",
                    help="a knowledge base and its questions; repeat for several")
    ap.add_argument("--limit", type=int, default=0,
                    help="questions per set, sampled with a fixed seed (default 0 = all)")
    ap.add_argument("--hops", type=int, default=3, help="hops graph_retrieve follows (1-3)")
    ap.add_argument("--previous-hops", type=int, default=2,
                    help="hops of the previous retriever and the word-overlap baseline "
                         "(default 2, as they shipped)")
    ap.add_argument("--made-up", type=int, default=200,
                    help="questions about made-up entities per set, sampled (0 = all)")
    ap.add_argument("--synthetic-edges", type=int, default=1_000_000)
    ap.add_argument("--without", default="",
                    help="contenders to skip, comma-separated: previous, baseline")
    ap.add_argument("--quick", action="store_true", help="200 questions, 100k synthetic edges")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.limit, args.synthetic_edges = 200, 100_000
    return args


def load_sets(args: argparse.Namespace) -> list[QuestionSet]:
    pairs = [parse_set(s) for s in args.set] if args.set else default_sets(args.data)
    if not pairs:
        raise ValueError(f"No question sets found under {args.data}; pass --data DIR (with "
                         "wc2014/ or pql/) or --set KB_FILE:QUESTIONS_FILE.")
    return [load_questions(kb, q, args.limit) for kb, q in pairs]


def open_store(kb: Path, tmp: Path, index: int) -> tuple[object, dict]:
    """An embedded store holding ``kb`` (ingested twice: the second pass must add nothing)."""
    from sapient.connectors.ladybug import LadybugStore
    from sapient.plugins.knowledge_graph import ingest_file

    store = LadybugStore(tmp / f"kb{index}")
    report = ingest_file(store, kb, batch_size=5000)
    again = ingest_file(store, kb, batch_size=5000)
    rels = store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0]
    return store, {"triples": report.triples, "relationships": rels,
                   "seconds": round(report.seconds, 2),
                   "triples_per_s": round(report.triples_per_s),
                   "reingest_s": round(again.seconds, 2)}


def run_set(qset: QuestionSet, store, embedder, args) -> dict:
    """Every contender on one set, and abstention on its questions about made-up entities."""
    from _graph_previous import PreviousGraphRetriever
    from sapient.plugins.knowledge_graph import GraphRetriever
    from sapient.plugins.knowledge_graph._ingest import normalize_name

    skip = {s.strip() for s in args.without.split(",") if s.strip()}
    row: dict = {"questions": len(qset.questions), "of": qset.total}
    new = GraphRetriever(store, embedder, max_hops=args.hops)
    row["new"] = score(new, qset, args.hops, "graph_retrieve")
    known = {normalize_name(n) for _, n in store.node_names()}
    made_up = made_up_questions(qset, known)
    if args.made_up and len(made_up) > args.made_up:
        made_up = random.Random(SEED).sample(made_up, args.made_up)
    row["made_up_questions"] = len(made_up)
    row["made_up_abstained"] = abstention(new, made_up, args.hops)
    hops = args.previous_hops  # the previous retriever as it shipped (two hops)
    if "previous" not in skip:
        old = PreviousGraphRetriever(store, embedder, max_hops=hops)
        row["previous"] = score(old, qset, hops, "previous")
    if "baseline" not in skip:
        row["baseline"] = score(PreviousGraphRetriever(store, None, max_hops=hops),
                                qset, hops, "word overlap")
    return row


def run_all(sets: list[QuestionSet], embedder, tmp: Path, args) -> tuple:
    """One knowledge base at a time (ingest, its question sets, latency, close), so that
    only one store is open and in memory at once."""
    results: dict[str, dict] = {}
    ingest, lat, guard, peer = {}, {}, {}, {}
    kbs = list(dict.fromkeys(q.kb for q in sets))
    for index, kb in enumerate(kbs):
        store, ingest[kb.name] = open_store(kb, tmp, index)
        try:
            for qset in (q for q in sets if q.kb == kb):
                results[qset.name] = run_set(qset, store, embedder, args)
            names = [n for _, n in store.node_names()]
            sample = random.Random(1).sample(names, min(100, len(names)))
            lat[kb.stem] = {f"hop{h}": neighborhood_latency(store, sample, h) for h in (1, 2)}
            if kb.name == "WC2014.txt":
                guard, peer = guard_eval(store), peer_guard_eval(kb)
        finally:
            store.close()
    return results, ingest, lat, guard, peer


def print_report(results: dict, ingest: dict, lat: dict, synth: dict, guard: dict,
                 peer: dict, args) -> None:
    print("Knowledge graph benchmark (LadybugDB, embedded)\n")
    for kb, d in ingest.items():
        print(f"ingest {kb}: {d['triples']} triples -> {d['relationships']} relationships in "
              f"{d['seconds']:.2f}s = {d['triples_per_s']:,} triples/s "
              f"(re-ingest {d['reingest_s']:.2f}s)")
    print(f"\nHits@1, up to {args.hops} hops ({args.limit or 'all'} questions per set, seed "
          f"{SEED}); abstentions count as misses")
    print(f"{'set':8} {'n':>6} {'new':>6} {'abst.':>6} {'made-up abst.':>13} {'previous':>9} "
          f"{'word overlap':>12} {'ms/q new':>9} {'ms/q prev.':>10}")
    for name, r in results.items():
        prev, base = r.get("previous", {}), r.get("baseline", {})
        print(f"{name:8} {r['questions']:>6} {r['new']['hits1']:>6.3f} "
              f"{r['new']['abstained']:>6.3f} {r['made_up_abstained']:>13.3f} "
              f"{prev.get('hits1', float('nan')):>9.3f} {base.get('hits1', float('nan')):>12.3f} "
              f"{r['new']['p50_ms']:>9.1f} {prev.get('p50_ms', float('nan')):>10.1f}")
    print("\nneighborhood latency (ms)      p50     p95")
    rows = [(f"{k} {h}", d) for k, v in lat.items() for h, d in v.items()]
    rows += [(f"synthetic {h}", synth[h]) for h in ("hop1", "hop2", "hop3",
                                                    "retriever_expand3", "previous_expand2",
                                                    "previous_expand3")
             if h in synth]
    for label, d in rows:
        print(f"{label:30} {d['p50_ms']:>6} {d['p95_ms']:>7}")
    if synth:
        print(f"synthetic: {synth['relationships']:,} relationships, {synth['nodes']:,} nodes, "
              f"COPY FROM in {synth['copy_load_s']}s ({synth['copy_rels_per_s']:,}/s)")
    if guard:
        print(f"\nguard: {guard['total']} adversarial/broken queries, "
              f"{guard['refused_or_repaired']} refused or repaired ({guard['refused']} refused,"
              f" {guard['repaired']} repaired), executed writes: {guard['executed_writes']}; "
              f"read-only transaction alone blocked {guard['read_only_layer_alone_blocked']}")
    if peer and "error" not in peer:
        print(f"peer (LangChain KuzuQAChain pipeline, same replies): {peer['executed']} of "
              f"{peer['total']} executed, {peer['executed_writes']} changed the graph")


def figures(results: dict, ingest: dict, lat: dict, synth: dict, guard: dict, peer: dict,
            args) -> dict:
    def per_set(who: str, key: str) -> dict:
        return {n: r[who][key] for n, r in results.items() if who in r}

    return {"hits1": per_set("new", "hits1"), "abstained": per_set("new", "abstained"),
            "made_up_abstained": {n: r["made_up_abstained"] for n, r in results.items()},
            "hits1_previous": per_set("previous", "hits1"),
            "hits1_word_overlap_baseline": per_set("baseline", "hits1"),
            "ms_per_question_p50": per_set("new", "p50_ms"),
            "ms_per_question_p50_previous": per_set("previous", "p50_ms"),
            "questions": {n: r["questions"] for n, r in results.items()},
            "hops": args.hops, "previous_hops": args.previous_hops, "ingest": ingest, "latency_ms": lat, "synthetic": synth,
            "guard": guard, "guard_peer_langchain": peer}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sets = load_sets(args)
    except (ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    from sapient import Host, Settings
    from sapient.plugins.knowledge_graph import GraphError

    tmp = Path(tempfile.mkdtemp(prefix="sapient-graph-bench-"))
    try:
        # the embedder the host gives graph_retrieve: all-MiniLM-L6-v2 by default
        embedder = Host(Settings(home=tmp / "home"), load_entrypoints=False).embedder()
        results, ingest, lat, guard, peer = run_all(sets, embedder, tmp, args)
        synth = (synthetic(tmp, args.synthetic_edges, max(1000, args.synthetic_edges // 10),
                           embedder) if args.synthetic_edges else {})
    except GraphError as exc:  # a malformed knowledge base: one sentence, no traceback
        print(f"Could not load a knowledge base: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(results, ingest, lat, synth, guard, peer, args)
    if args.json:
        print(json.dumps(figures(results, ingest, lat, synth, guard, peer, args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
