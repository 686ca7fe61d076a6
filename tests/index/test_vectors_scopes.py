"""Vector store scopes that never leak: plain and keyword search, LlamaIndex retrievers, hostile queries."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from index.vectors import VectorStore, scope_filters
from tests.index.builders import DIM, axis, chunk, ids

HOSTILE = [
    '"',
    '"unterminated',
    "NEAR(alpha beta, 2)",
    "*",
    "alpha*",
    "(",
    ") OR (",
    "alpha AND NOT beta",
    "body:alpha",
    "^alpha",
    "chunks_fts:alpha",
    '" OR 1=1 --',
    "'; DROP TABLE chunks; --",
    "{alpha beta}",
    "+ - : . ,",
    "",
    "   ",
    "x" * 10_000,
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    vectors = VectorStore.in_dir(tmp_path / "index")
    yield vectors
    vectors.close()


# Two guilds, a server-wide and two channel documents in guild 1, and a DM: every one holds the same
# vector and the same words, so only the scope filter can tell them apart.
PLACES = {
    "g1-server": ("1", "server:1"),
    "g1-chan10": ("1", "channel:10"),
    "g1-chan11": ("1", "channel:11"),
    "g2-server": ("2", "server:2"),
    "g2-chan10": ("2", "channel:10"),  # same channel key in another shard must not leak either
    "dm-5": ("dm:5", "user:5"),
    "dm-6": ("dm:6", "user:6"),
}


@pytest.fixture
def scoped(store: VectorStore) -> VectorStore:
    nodes = [
        chunk(doc, 0, "the quarterly budget report 予算の報告", axis(0), shard=shard, scope=scope)
        for doc, (shard, scope) in PLACES.items()
    ]
    store.add(nodes)
    return store


ASKS = [
    ("1", ["server:1", "channel:10"], {"g1-server", "g1-chan10"}),
    ("1", ["server:1", "channel:11"], {"g1-server", "g1-chan11"}),
    ("1", ["server:1"], {"g1-server"}),
    ("1", ["channel:10"], {"g1-chan10"}),
    ("1", ["server:2", "user:5"], set()),
    ("2", ["server:2", "channel:10"], {"g2-server", "g2-chan10"}),
    ("dm:5", ["user:5"], {"dm-5"}),
    ("dm:5", ["user:6", "server:1"], set()),
    ("3", ["server:1", "channel:10", "user:5"], set()),
]


@pytest.mark.parametrize(("shard", "allowed", "expected"), ASKS)
def test_vector_search_never_leaks_out_of_scope(
    scoped: VectorStore, shard: str, allowed: list[str], expected: set[str]
) -> None:
    found = scoped.search(shard, allowed, axis(0), 50)
    assert {node.ref_doc_id for node, _ in found} == expected
    assert all(node.metadata["shard"] == shard and node.metadata["scope"] in allowed for node, _ in found)


@pytest.mark.parametrize(("shard", "allowed", "expected"), ASKS)
def test_keyword_search_never_leaks_out_of_scope(
    scoped: VectorStore, shard: str, allowed: list[str], expected: set[str]
) -> None:
    for words in ("quarterly budget", "予算"):
        found = scoped.keyword_search(shard, allowed, words, 50)
        assert {node.ref_doc_id for node, _ in found} == expected


class WordEmbedding(BaseEmbedding):
    """A deterministic bag-of-words embedding: texts sharing words are close."""

    dim: int = 64

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            vector[zlib.crc32(word.encode()) % self.dim] += 1.0
        return vector

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


@pytest.fixture
def llama_index(store: VectorStore) -> VectorStoreIndex:
    texts = {
        "g1-server": ("1", "server:1", "the deploy runbook restarts the web servers"),
        "g1-chan10": ("1", "channel:10", "the deploy runbook for channel ten secrets"),
        "g1-chan11": ("1", "channel:11", "the deploy runbook for channel eleven"),
        "g2-server": ("2", "server:2", "the deploy runbook of another guild"),
        "dm-5": ("dm:5", "user:5", "my private deploy runbook"),
    }
    index = VectorStoreIndex.from_vector_store(store, embed_model=WordEmbedding())
    # No embeddings given: LlamaIndex embeds them and writes through VectorStore.add.
    index.insert_nodes([chunk(doc, 0, text, None, shard=s, scope=k) for doc, (s, k, text) in texts.items()])
    return index


def test_closer_chunks_out_of_scope_do_not_crowd_out_the_allowed_ones(store: VectorStore) -> None:
    store.add([chunk("near", i, "near", axis(0), scope="channel:11") for i in range(5)])
    store.add([chunk("near-dm", i, "near", axis(0), shard="dm:1", scope="user:1") for i in range(5)])
    store.add([chunk("far", i, "far", [1.0] * DIM) for i in range(3)])
    found = store.search("1", ["server:1", "channel:10"], axis(0), 2)
    assert [n.ref_doc_id for n, _ in found] == ["far", "far"]


def test_llamaindex_retriever_finds_in_scope_and_never_leaks(llama_index: VectorStoreIndex) -> None:
    filters = scope_filters("1", ["server:1", "channel:11"])
    found = llama_index.as_retriever(similarity_top_k=10, filters=filters).retrieve("restart the web servers")
    assert [n.node.ref_doc_id for n in found] == ["g1-server", "g1-chan11"]
    dm = llama_index.as_retriever(similarity_top_k=10, filters=scope_filters("dm:5", ["user:5"]))
    assert [n.node.ref_doc_id for n in dm.retrieve("deploy runbook")] == ["dm-5"]


def test_llamaindex_guild_filter_and_keyword_mode(llama_index: VectorStoreIndex) -> None:
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="guild", value=1, operator=FilterOperator.EQ),
            MetadataFilter(key="scope", value=["server:1", "channel:10"], operator=FilterOperator.IN),
        ]
    )
    retriever = llama_index.as_retriever(
        similarity_top_k=10, filters=filters, vector_store_query_mode="text_search"
    )
    assert [n.node.ref_doc_id for n in retriever.retrieve("secrets")] == ["g1-chan10"]
    assert {n.node.ref_doc_id for n in retriever.retrieve("runbook")} == {"g1-server", "g1-chan10"}


async def test_llamaindex_async_retriever_respects_scope(llama_index: VectorStoreIndex) -> None:
    retriever = llama_index.as_retriever(similarity_top_k=10, filters=scope_filters("2", ["server:2"]))
    found = await retriever.aretrieve("deploy runbook")
    assert [n.node.ref_doc_id for n in found] == ["g2-server"]


@pytest.mark.parametrize(
    "filters",
    [
        None,
        MetadataFilters(filters=[MetadataFilter(key="shard", value="1")]),
        MetadataFilters(filters=[MetadataFilter(key="scope", value="server:1")]),
        MetadataFilters(
            filters=[
                MetadataFilter(key="shard", value="1"),
                MetadataFilter(key="scope", value=["server:1"], operator=FilterOperator.IN),
            ],
            condition=FilterCondition.OR,
        ),
        MetadataFilters(
            filters=[
                MetadataFilter(key="shard", value="1"),
                MetadataFilter(key="shard", value="2"),
                MetadataFilter(key="scope", value=["server:1"], operator=FilterOperator.IN),
            ]
        ),
        MetadataFilters(
            filters=[
                MetadataFilter(key="shard", value="1"),
                MetadataFilter(key="scope", value="server:1", operator=FilterOperator.NE),
            ]
        ),
    ],
)
def test_query_without_a_pinned_shard_and_scope_is_refused(scoped: VectorStore, filters: Any) -> None:
    with pytest.raises(ValueError):
        scoped.query(VectorStoreQuery(query_embedding=axis(0), similarity_top_k=5, filters=filters))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_keyword_queries_are_inert_and_stay_in_scope(scoped: VectorStore, text: str) -> None:
    scoped.add([chunk("alpha", 0, "alpha beta gamma body near", axis(1), scope="channel:10")])
    found = scoped.keyword_search("1", ["server:1"], text, 10)
    assert all(node.metadata["scope"] == "server:1" for node, _ in found)
    found = scoped.keyword_search("1", ["channel:10"], f"{text} alpha", 10)
    assert "alpha:0" in ids(found)
    assert all(node.metadata["scope"] == "channel:10" for node, _ in found)
