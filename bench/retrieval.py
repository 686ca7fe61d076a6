"""Top-5 retrieval with a scope filter in one guild among five: our store against numpy and SimpleVectorStore.

Run by hand from the checkout (not a test; pytest only collects tests/):

    .venv/bin/python bench/retrieval.py [--sizes 10000 100000] [--queries 200] [--simple-queries 5]

For each size N the measured guild holds N chunks of 512 dimensions (half server-wide, half spread over
ten channels) and four other guilds hold N/8 each, so the index has 1.5 N chunks. A query asks for the
top 5 among the server's chunks and one channel's (about 55% of the guild), with a vector near a random
allowed chunk. Measured in the same run, on the same vectors:

  store    VectorStore.search, warm (shard cached), returning nodes with text and metadata
  numpy    the guild's vectors as one float32 matrix: product, scope mask, argpartition (ids only)
  simple   LlamaIndex's SimpleVectorStore.query with MetadataFilters (ids only), on fewer queries

It also prints insert time (replace_document in 500-chunk documents), reopen time (a new VectorStore on
the file and its first query, which loads the shard from SQLite) and keyword (BM25) search time.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `index` importable

import numpy as np  # noqa: E402
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores import SimpleVectorStore  # noqa: E402
from llama_index.core.vector_stores.types import VectorStoreQuery  # noqa: E402

from index.vectors import VectorStore, scope_filters  # noqa: E402

DIM = 512
TOP_K = 5
GUILD = "1001"
OTHER_GUILDS = ("1002", "1003", "1004", "1005")
CHANNELS = 10
DOC_CHUNKS = 500
WORDS_PER_CHUNK = 80
GOAL_MS = 30.0
GOAL_VS_SIMPLE = 20.0
GOAL_VS_NUMPY = 3.0


@dataclass
class Corpus:
    """Vectors, scopes and texts of every chunk; the measured guild's rows first."""

    vectors: np.ndarray
    shards: list[str]
    scopes: list[str]
    texts: list[str]
    guild_rows: int

    def nodes(self) -> list[TextNode]:
        """The chunks as ingest makes them, 500 to a document."""
        nodes = []
        for i, vector in enumerate(self.vectors):
            doc_id = f"doc-{self.shards[i]}-{self.scopes[i]}-{i // DOC_CHUNKS}"
            shard, scope = self.shards[i], self.scopes[i]
            metadata = {"doc_id": doc_id, "filename": f"{doc_id}.md", "shard": shard, "scope": scope}
            node = TextNode(
                id_=f"n{i}",
                text=self.texts[i],
                metadata=metadata,
                embedding=vector.tolist(),
                excluded_embed_metadata_keys=["doc_id", "shard", "scope"],
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
            nodes.append(node)
        return nodes


def make_corpus(size: int, rng: np.random.Generator) -> Corpus:
    """N chunks in the measured guild and N/8 in each of four others, grouped by (guild, scope)."""
    shards: list[str] = []
    scopes: list[str] = []
    for guild, count in [(GUILD, size), *((g, size // 8) for g in OTHER_GUILDS)]:
        channel_ids = rng.integers(1, CHANNELS + 1, count)
        server = rng.random(count) < 0.5
        for is_server, channel in zip(server, channel_ids, strict=True):
            shards.append(guild)
            scopes.append(f"server:{guild}" if is_server else f"channel:{guild}{channel:02d}")
    order = sorted(range(len(shards)), key=lambda i: (shards[i] != GUILD, shards[i], scopes[i]))
    shards = [shards[i] for i in order]
    scopes = [scopes[i] for i in order]
    vectors = rng.standard_normal((len(shards), DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocabulary = [f"w{i}" for i in range(5000)]
    picks = rng.integers(0, len(vocabulary), (len(shards), WORDS_PER_CHUNK))
    texts = [" ".join(vocabulary[j] for j in row) for row in picks]
    return Corpus(vectors, shards, scopes, texts, size)


@dataclass
class Query:
    """A query vector near one allowed chunk, and the scope keys it may read."""

    vector: np.ndarray
    allowed: list[str]
    target: int


def make_queries(corpus: Corpus, count: int, rng: np.random.Generator) -> list[Query]:
    """Queries whose nearest allowed chunk is known."""
    queries = []
    for _ in range(count):
        channel = f"channel:{GUILD}{int(rng.integers(1, CHANNELS + 1)):02d}"
        allowed = [f"server:{GUILD}", channel]
        candidates = [i for i in rng.integers(0, corpus.guild_rows, 50) if corpus.scopes[i] in allowed]
        target = int(candidates[0])
        vector = corpus.vectors[target] + rng.standard_normal(DIM, dtype=np.float32) * 0.02
        queries.append(Query(vector.astype(np.float32), allowed, target))
    return queries


def timings(
    run: Callable[[Query], list[str]], queries: Sequence[Query]
) -> tuple[list[float], list[list[str]]]:
    """Milliseconds per query and each query's result ids."""
    times, results = [], []
    for query in queries:
        started = time.perf_counter()
        ids = run(query)
        times.append((time.perf_counter() - started) * 1e3)
        results.append(ids)
    return times, results


def p(times: list[float], q: float) -> float:
    """The q-th percentile."""
    return float(np.percentile(times, q))


def bench_size(size: int, args: argparse.Namespace, rng: np.random.Generator) -> dict[str, float]:
    """Build the corpus at one size, time every contender, print a block; returns the key figures."""
    print(f"\n=== {size:,} chunks in the measured guild, {int(size * 1.5):,} in the index, {DIM} dims ===")
    started = time.perf_counter()
    corpus = make_corpus(size, rng)
    nodes = corpus.nodes()
    queries = make_queries(corpus, args.queries, rng)
    print(f"corpus built in {time.perf_counter() - started:.1f} s (not measured)")

    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore.in_dir(tmp)
        started = time.perf_counter()
        for start in range(0, len(nodes), DOC_CHUNKS):
            store.replace_document([], nodes[start : start + DOC_CHUNKS])
        insert_s = time.perf_counter() - started
        store.close()

        started = time.perf_counter()
        store = VectorStore.in_dir(tmp)
        store.search(GUILD, queries[0].allowed, queries[0].vector, TOP_K)
        reopen_s = time.perf_counter() - started

        def ours(query: Query) -> list[str]:
            return [node.node_id for node, _ in store.search(GUILD, query.allowed, query.vector, TOP_K)]

        store_ms, store_ids = timings(ours, queries)
        words = [" ".join(f"w{int(w)}" for w in rng.integers(0, 5000, 3)) for _ in range(50)]
        keyword_ms = []
        for text, query in zip(words, queries, strict=False):
            began = time.perf_counter()
            store.keyword_search(GUILD, query.allowed, text, 20)
            keyword_ms.append((time.perf_counter() - began) * 1e3)
        store.close()

    guild = corpus.vectors[: corpus.guild_rows]
    codes = {scope: i for i, scope in enumerate(sorted(set(corpus.scopes[: corpus.guild_rows])))}
    scope_codes = np.array([codes[s] for s in corpus.scopes[: corpus.guild_rows]], dtype=np.int32)

    def numpy_top(query: Query) -> list[str]:
        scores = guild @ (query.vector / np.linalg.norm(query.vector))
        allowed = np.isin(scope_codes, [codes[s] for s in query.allowed if s in codes])
        scores[~allowed] = -np.inf
        top = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
        return [f"n{i}" for i in top[np.argsort(-scores[top])]]

    numpy_ms, numpy_ids = timings(numpy_top, queries)
    agree = sum(a == b for a, b in zip(store_ids, numpy_ids, strict=True))
    hits = sum(ids[0] == f"n{q.target}" for ids, q in zip(store_ids, queries, strict=True))

    simple_queries = queries[: args.simple_queries]
    simple_build_s, simple_ms, simple_ids = bench_simple(nodes, simple_queries)
    simple_agree = sum(set(a) == set(b) for a, b in zip(simple_ids, store_ids, strict=False))
    del nodes
    gc.collect()

    total = len(corpus.shards)
    print(f"insert   {insert_s:6.1f} s for {total:,} chunks ({total / insert_s:,.0f}/s)")
    print(f"reopen   {reopen_s * 1e3:6.0f} ms (open the file + first query, loading {size:,} vectors)")
    row("store", store_ms, f"{len(store_ms)} queries, warm")
    row("numpy", numpy_ms, f"{len(numpy_ms)} queries")
    row("simple", simple_ms, f"{len(simple_ms)} queries; building it took {simple_build_s:.1f} s")
    row("keyword", keyword_ms, "BM25: 3 words, top 20")
    print(
        f"results  store = numpy top-5 on {agree}/{len(queries)} queries; store = simple on "
        f"{simple_agree}/{len(simple_queries)}; target chunk first on {hits}/{len(queries)}"
    )
    vs_numpy = p(store_ms, 50) / p(numpy_ms, 50)
    vs_simple = p(simple_ms, 50) / p(store_ms, 50)
    print(f"ratios   store/numpy {vs_numpy:.2f}x (goal <= {GOAL_VS_NUMPY:.0f}x)   "
          f"simple/store {vs_simple:,.0f}x (goal >= {GOAL_VS_SIMPLE:.0f}x)")
    return {"p50": p(store_ms, 50), "p99": p(store_ms, 99), "vs_numpy": vs_numpy, "vs_simple": vs_simple}


def row(name: str, times: list[float], note: str) -> None:
    """Print one contender's percentiles."""
    print(f"{name:8} p50 {p(times, 50):8.2f} ms   p99 {p(times, 99):8.2f} ms   ({note})")


def bench_simple(
    nodes: list[TextNode], queries: Sequence[Query]
) -> tuple[float, list[float], list[list[str]]]:
    """SimpleVectorStore on the same nodes: build seconds, then milliseconds and ids per query."""
    started = time.perf_counter()
    simple = SimpleVectorStore()
    simple.add(nodes)
    build_s = time.perf_counter() - started

    def top(query: Query) -> list[str]:
        vector, filters = query.vector.tolist(), scope_filters(GUILD, query.allowed)
        result = simple.query(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=TOP_K, filters=filters)
        )
        return list(result.ids or [])

    return (build_s, *timings(top, queries))


def main(args: argparse.Namespace) -> int:
    """Run every size and check the goals on the largest."""
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    figures = {size: bench_size(size, args, rng) for size in args.sizes}
    largest = figures[max(figures)]
    checks = [
        (f"p50 <= {GOAL_MS:.0f} ms at {max(figures):,}", largest["p50"] <= GOAL_MS),
        (f">= {GOAL_VS_SIMPLE:.0f}x faster than SimpleVectorStore", largest["vs_simple"] >= GOAL_VS_SIMPLE),
        (f"within {GOAL_VS_NUMPY:.0f}x of numpy", largest["vs_numpy"] <= GOAL_VS_NUMPY),
    ]
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label}")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if all(ok for _, ok in checks) else 1


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries for store and numpy")
    parser.add_argument("--simple-queries", type=int, default=5, help="queries for SimpleVectorStore")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main(parse_args()))
