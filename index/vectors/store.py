"""VectorStore: chunks in SQLite (vectors/sql.py), their vectors cached in numpy (vectors/matrix.py).

The methods are synchronous (SQLite and numpy): call them through `asyncio.to_thread` or use the
`a...` wrappers.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from index.vectors.filters import scope_of_filters
from index.vectors.keyword import keyword_query
from index.vectors.matrix import Shard, apply_change, groups_of, rank, unit_query
from index.vectors.rows import Change, Row, node_of, rows_of, unit_vectors
from index.vectors.sql import (
    DB_NAME,
    VectorStoreError,
    bump_versions,
    connect,
    delete_chunks,
    insert_rows,
    keyword_rows,
    migrate,
    read_dimensions,
    record_dimensions,
    rows_by_id,
    shard_version,
    vectors_by_scope,
)

log = logging.getLogger(__name__)


class VectorStore(BasePydanticVectorStore):
    """Chunks with embeddings and a keyword index in one SQLite file, searched per shard and scope."""

    stores_text: bool = True
    path: str

    _writer: sqlite3.Connection | None = PrivateAttr(default=None)
    _readers: list[sqlite3.Connection] = PrivateAttr(default_factory=list)
    _local: threading.local = PrivateAttr(default_factory=threading.local)
    _write_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _cache_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _shards: dict[str, Shard] = PrivateAttr(default_factory=dict)
    _dim: int | None = PrivateAttr(default=None)
    _idle: threading.Condition = PrivateAttr(default_factory=threading.Condition)
    _users: int = PrivateAttr(default=0)
    _closed: bool = PrivateAttr(default=False)

    def __init__(self, path: Path | str) -> None:
        super().__init__(path=str(path))
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._migrate()

    @classmethod
    def in_dir(cls, index_dir: Path | str) -> VectorStore:
        """The store in an index directory (`Settings.index_dir`)."""
        return cls(Path(index_dir) / DB_NAME)

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's name for this store."""
        return "TeambotSQLiteVectorStore"

    @property
    def client(self) -> sqlite3.Connection:
        """The write connection."""
        if self._writer is None:
            raise VectorStoreError("the vector store is closed")
        return self._writer

    # -- connections ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL readers never wait for the writer)."""
        if self._writer is None:
            raise VectorStoreError("the vector store is closed")
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._cache_lock:
                self._readers.append(db)
        return db

    def _migrate(self) -> None:
        migrate(self.client, self.path)

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        with self._idle:
            if self._closed:
                raise VectorStoreError("the vector store is closed")
            self._users += 1
        try:
            yield
        finally:
            with self._idle:
                self._users -= 1
                self._idle.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new calls, wait for running ones, then close every connection and drop the cache."""
        with self._idle:
            if self._closed:
                return
            self._closed = True
            # A cancelled asyncio.to_thread call keeps running in its thread: closing its connection
            # under it would crash the process, so wait for it (and leak the connections if it hangs).
            if not self._idle.wait_for(lambda: self._users == 0, timeout):
                log.warning("%d vector store calls still running at close: left open", self._users)
                return
        with self._write_lock, self._cache_lock:
            for db in [*self._readers, *([self._writer] if self._writer else [])]:
                db.close()
            self._readers.clear()
            self._writer = None
            self._local = threading.local()
            self._shards.clear()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.client
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Add (or overwrite by node id) nodes that carry embeddings and shard/scope metadata."""
        self._write([], nodes)
        return [node.node_id for node in nodes]

    def replace_document(self, old_doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> int:
        """Delete the old documents' chunks and add the new ones in one transaction; returns chunks added."""
        self._write(old_doc_ids, nodes)
        return len(nodes)

    def delete_document(self, doc_id: str) -> int:
        """Delete one document's chunks; returns how many there were."""
        return len(self._write([doc_id], []).removed)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete the chunks of a document (LlamaIndex's ref_doc_id is our doc id)."""
        self.delete_document(ref_doc_id)

    def _write(self, doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> Change:
        with self._in_use():
            return self._write_now(doc_ids, nodes)

    def _write_now(self, doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> Change:
        rows, vectors = self._prepare(nodes)
        with self._write_lock:
            with self._transaction() as db:
                change = self._apply_to_db(db, list(doc_ids), rows, vectors)
            if rows:
                self._dim = vectors.shape[1]
            self._apply_to_cache(change)
        return change

    def _prepare(self, nodes: Sequence[BaseNode]) -> tuple[list[Row], np.ndarray]:
        """Validate and serialise nodes before the transaction starts, so it stays short."""
        rows = rows_of(nodes)
        return rows, unit_vectors(nodes, self._dimensions())

    def _dimensions(self) -> int | None:
        if self._dim is None:
            self._dim = read_dimensions(self._reader())
        return self._dim

    def _apply_to_db(
        self, db: sqlite3.Connection, doc_ids: list[str], rows: list[Row], vectors: np.ndarray
    ) -> Change:
        removed = delete_chunks(db, doc_ids, [row.node_id for row in rows])
        ids = self._insert(db, rows, vectors)
        if rows:
            record_dimensions(db, vectors.shape[1])
        versions = bump_versions(db, {s for _, s, _ in removed} | {row.shard for row in rows})
        return Change(removed, ids, rows, vectors, versions)

    def _insert(self, db: sqlite3.Connection, rows: list[Row], vectors: np.ndarray) -> np.ndarray:
        """Insert rows with explicit ascending ids (the cache keeps ids sorted per group)."""
        return insert_rows(db, rows, vectors)

    def _apply_to_cache(self, change: Change) -> None:
        with self._cache_lock:
            apply_change(self._shards, change)

    # -- reading -------------------------------------------------------------------------------------

    def chunk_count(self, doc_id: str) -> int:
        """How many chunks a document has in the index."""
        with self._in_use():
            row = self._reader().execute("SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()
        return int(row[0])

    def doc_ids(self) -> set[str]:
        """The id of every document with chunks in the index."""
        with self._in_use():
            rows = self._reader().execute("SELECT DISTINCT doc_id FROM chunks").fetchall()
        return {str(row[0]) for row in rows}

    def search(
        self, shard: str, allowed_scopes: Iterable[str], query_vector: Sequence[float] | np.ndarray, k: int
    ) -> list[tuple[TextNode, float]]:
        """The k chunks of a shard, within the allowed scope keys, most similar (cosine) to a vector."""
        with self._in_use():
            return self._search(shard, set(allowed_scopes), query_vector, k)

    def _search(
        self, shard: str, scopes: set[str], query_vector: Sequence[float] | np.ndarray, k: int
    ) -> list[tuple[TextNode, float]]:
        if k <= 0 or not scopes:
            return []
        cached = self._shard(shard)
        if cached is None:
            return []
        query = unit_query(np.asarray(query_vector, dtype=np.float32), self._dimensions())
        if query is None:
            return []
        with self._cache_lock:
            # Views of the used rows: appends and compaction never change what these see.
            parts = cached.views(scopes)
        return self._fetch(shard, scopes, rank(parts, query, k))

    def keyword_search(
        self, shard: str, allowed_scopes: Iterable[str], query_text: str, k: int
    ) -> list[tuple[TextNode, float]]:
        """The k chunks of a shard, within the allowed scope keys, ranked by BM25 for the words of a text."""
        scopes = sorted(set(allowed_scopes))
        match = keyword_query(query_text)
        if k <= 0 or not scopes or not match:
            return []
        with self._in_use():
            rows = keyword_rows(self._reader(), match, shard, scopes, k)
        return [(node_of(text, metadata), -float(bm25)) for text, metadata, bm25 in rows]

    def _fetch(
        self, shard: str, scopes: set[str], ranked: list[tuple[int, float]]
    ) -> list[tuple[TextNode, float]]:
        if not ranked:
            return []
        found = rows_by_id(self._reader(), [rid for rid, _ in ranked])
        results = []
        for rid, score in ranked:
            row = found.get(rid)  # missing: deleted since the search began
            # The rows are checked again, so a stale cache can return less but never out of scope.
            if row is not None and row[0] == shard and row[1] in scopes:
                results.append((node_of(row[2], row[3]), score))
        return results

    def _shard(self, shard: str) -> Shard | None:
        """The shard's cached vectors, loaded or reloaded if the database has a newer version."""
        version = shard_version(self._reader(), shard)
        with self._cache_lock:
            cached = self._shards.get(shard)
        if cached is not None and cached.version == version:
            return cached
        if version == 0:
            return None
        with self._load_lock:
            with self._cache_lock:
                cached = self._shards.get(shard)
            if cached is not None and cached.version >= version:
                return cached
            loaded = self._load(shard)
            with self._cache_lock:
                current = self._shards.get(shard)
                if current is None or current.version < loaded.version:
                    self._shards[shard] = loaded
                return self._shards[shard]

    def _load(self, shard: str) -> Shard:
        """Read a shard's vectors in one read transaction, so they match the version read with them."""
        started = time.perf_counter()
        db = self._reader()
        dim = self._dimensions() or 0
        db.execute("BEGIN")
        try:
            version = shard_version(db, shard)
            by_scope = vectors_by_scope(db, shard)
        finally:
            db.execute("COMMIT")
        groups = groups_of(by_scope, dim)
        count, ms = sum(g.size for g in groups.values()), (time.perf_counter() - started) * 1e3
        log.debug("loaded shard %s: %d vectors in %.0f ms", shard, count, ms)
        return Shard(version, groups)

    # -- LlamaIndex queries --------------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """LlamaIndex query: needs a shard (or guild) EQ filter and a scope IN filter; vector or text mode."""
        shard, scopes = scope_of_filters(query.filters)
        if query.doc_ids or query.node_ids:
            raise NotImplementedError("filter by doc_ids/node_ids is not supported; use metadata filters")
        if query.mode in (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE):
            found = self.keyword_search(shard, scopes, query.query_str or "", query.similarity_top_k)
        elif query.mode == VectorStoreQueryMode.DEFAULT:
            if query.query_embedding is None:
                raise ValueError("a vector query needs query_embedding")
            found = self.search(shard, scopes, query.query_embedding, query.similarity_top_k)
        else:
            raise NotImplementedError(f"query mode {query.mode.value} is not supported")
        return VectorStoreQueryResult(
            nodes=[node for node, _ in found],
            similarities=[score for _, score in found],
            ids=[node.node_id for node, _ in found],
        )

    # -- async wrappers ------------------------------------------------------------------------------

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """`add` in a worker thread."""
        return await asyncio.to_thread(self.add, nodes)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """`delete` in a worker thread."""
        await asyncio.to_thread(self.delete, ref_doc_id)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """`query` in a worker thread."""
        return await asyncio.to_thread(self.query, query)

    async def areplace_document(self, old_doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> int:
        """`replace_document` in a worker thread."""
        return await asyncio.to_thread(self.replace_document, old_doc_ids, nodes)

    async def adelete_document(self, doc_id: str) -> int:
        """`delete_document` in a worker thread."""
        return await asyncio.to_thread(self.delete_document, doc_id)

    async def achunk_count(self, doc_id: str) -> int:
        """`chunk_count` in a worker thread."""
        return await asyncio.to_thread(self.chunk_count, doc_id)

    async def asearch(
        self, shard: str, allowed_scopes: Iterable[str], query_vector: Sequence[float] | np.ndarray, k: int
    ) -> list[tuple[TextNode, float]]:
        """`search` in a worker thread."""
        return await asyncio.to_thread(self.search, shard, list(allowed_scopes), query_vector, k)

    async def akeyword_search(
        self, shard: str, allowed_scopes: Iterable[str], query_text: str, k: int
    ) -> list[tuple[TextNode, float]]:
        """`keyword_search` in a worker thread."""
        return await asyncio.to_thread(self.keyword_search, shard, list(allowed_scopes), query_text, k)

    async def aclose(self) -> None:
        """`close` in a worker thread."""
        await asyncio.to_thread(self.close)
