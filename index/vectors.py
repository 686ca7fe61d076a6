"""The embedded vector store behind the index: chunks in one SQLite file, vectors cached in numpy per shard.

Every chunk (text, node JSON, unit-length float32 embedding, shard, scope key) and its keyword-index
entry live in `DATA_DIR/index/chunks.sqlite3`, written in single transactions, so a crash leaves a
document's old version or its new one, never half. For speed each shard's vectors are also held in
memory, one numpy matrix per scope key, loaded lazily on the shard's first query and kept in step on
every write; a per-shard version in the database tells when another process (or an older object on the
same file) changed a shard, and the cache is then reloaded.

A shard is a guild id, or "dm:<user id>" for a DM; a scope key is "server:<guild id>",
"channel:<channel id>" or "user:<user id>". Every query names one shard and the scope keys it may read,
and nothing outside them is ever returned.

The methods are synchronous (SQLite and numpy): call them through `asyncio.to_thread` or use the
`a...` wrappers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

log = logging.getLogger(__name__)

DB_NAME = "chunks.sqlite3"
SCHEMA_VERSION = 1
MAX_QUERY_TERMS = 48
_SQL_BATCH = 500
# Tombstoned rows are compacted away once they are this many and a quarter of their group.
_COMPACT_MIN_DEAD = 1024

_SCHEMA = """
CREATE TABLE chunks (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id   TEXT    NOT NULL UNIQUE,
    doc_id    TEXT    NOT NULL,
    shard     TEXT    NOT NULL,
    scope     TEXT    NOT NULL,
    text      TEXT    NOT NULL,
    metadata  TEXT    NOT NULL,
    embedding BLOB    NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id);
CREATE INDEX chunks_shard ON chunks (shard, id);
CREATE VIRTUAL TABLE chunks_fts USING fts5 (body, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE shards (shard TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

# Han, kana (with 々〆〇 and the long-vowel mark), Hangul: scripts written without spaces between words.
_CJK = (
    "\u3005-\u3007\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_TERM = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")


class VectorStoreError(Exception):
    """The index file cannot be used (written by a newer version, or closed)."""


# ---------------------------------------------------------------------------------------------------
# Keyword text


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def keyword_text(text: str) -> str:
    """Text as the keyword index stores it: NFKC, and each CJK run as its overlapping bigrams."""

    def expand(match: re.Match[str]) -> str:
        run = match.group()
        # The last character alone too, so a one-character query (a prefix search) finds a run's end.
        tokens = _bigrams(run) + ([run[-1]] if len(run) > 1 else [])
        return " " + " ".join(tokens) + " "

    return _CJK_RUN.sub(expand, unicodedata.normalize("NFKC", text))


def keyword_query(text: str) -> str:
    """A safe FTS5 query for free text: words and CJK bigrams quoted and OR-ed; "" if nothing to find."""
    terms: list[str] = []
    for match in _TERM.finditer(unicodedata.normalize("NFKC", text)):
        token = match.group()
        if not _CJK_RUN.fullmatch(token):
            terms.append(f'"{token}"')
        elif len(token) == 1:
            terms.append(f'"{token}"*')
        else:
            grams = _bigrams(token)
            terms.extend(f'"{gram}"' for gram in grams)
            if len(grams) > 1:  # the run as a phrase too: chunks with the exact sequence rank higher
                terms.append('"' + " ".join(grams) + '"')
    # Terms hold only letters and digits (the regex), so quoting makes FTS5 syntax inert.
    return " OR ".join(list(dict.fromkeys(terms))[:MAX_QUERY_TERMS])


# ---------------------------------------------------------------------------------------------------
# In-memory vectors


@dataclass(slots=True)
class _Group:
    """One scope key's vectors in a shard: rows [0, size) in use, ids ascending, `alive` false if deleted."""

    ids: np.ndarray
    matrix: np.ndarray
    alive: np.ndarray
    size: int
    dead: int = 0

    @classmethod
    def of(cls, ids: np.ndarray, matrix: np.ndarray) -> _Group:
        """A group holding exactly these rows."""
        return cls(ids, matrix, np.ones(len(ids), dtype=bool), len(ids))

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows with ids above every id already here."""
        need = self.size + len(ids)
        if need > len(self.ids):
            # New arrays rather than in-place resize: a search running on the old ones stays valid.
            capacity = max(need, len(self.ids) * 3 // 2, 64)
            grown = _Group(
                np.zeros(capacity, dtype=np.int64),
                np.zeros((capacity, self.matrix.shape[1]), dtype=np.float32),
                np.zeros(capacity, dtype=bool),
                self.size,
                self.dead,
            )
            grown.ids[: self.size] = self.ids[: self.size]
            grown.matrix[: self.size] = self.matrix[: self.size]
            grown.alive[: self.size] = self.alive[: self.size]
            self.ids, self.matrix, self.alive = grown.ids, grown.matrix, grown.alive
        self.ids[self.size : need] = ids
        self.matrix[self.size : need] = vectors
        self.alive[self.size : need] = True
        self.size = need

    def remove(self, ids: np.ndarray) -> None:
        """Tombstone rows by id, compacting when many are dead."""
        rows = np.searchsorted(self.ids[: self.size], ids)
        inside = rows < self.size
        rows, ids = rows[inside], ids[inside]
        rows = rows[self.ids[rows] == ids]
        fresh = rows[self.alive[rows]]
        self.alive[fresh] = False
        self.dead += len(fresh)
        if self.dead >= _COMPACT_MIN_DEAD and self.dead * 4 >= self.size:
            keep = np.flatnonzero(self.alive[: self.size])
            self.ids, self.matrix = self.ids[keep], self.matrix[keep]
            self.alive = np.ones(len(keep), dtype=bool)
            self.size, self.dead = len(keep), 0

    @property
    def live(self) -> int:
        """How many rows are not tombstoned."""
        return self.size - self.dead


@dataclass(slots=True)
class _Shard:
    """A shard's cached vectors, at a version of the database."""

    version: int
    groups: dict[str, _Group]


@dataclass(frozen=True, slots=True)
class _Row:
    """A chunk ready to be written."""

    node_id: str
    doc_id: str
    shard: str
    scope: str
    text: str
    metadata: str
    keywords: str


@dataclass(slots=True)
class _Change:
    """What one committed transaction did to the chunks, to mirror in the cache."""

    removed: list[tuple[int, str, str]]
    added_ids: np.ndarray
    added_rows: list[_Row]
    added_vectors: np.ndarray
    versions: dict[str, int]


# ---------------------------------------------------------------------------------------------------
# The store


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
    _shards: dict[str, _Shard] = PrivateAttr(default_factory=dict)
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
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: once a document's record says "ready" its chunks must survive a power cut too.
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        return db

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
        db = self.client
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise VectorStoreError(f"{self.path} was written by a newer teambot (schema {version})")
        if version == 0:
            db.executescript(f"BEGIN;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")

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

    def _write(self, doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> _Change:
        with self._in_use():
            return self._write_now(doc_ids, nodes)

    def _write_now(self, doc_ids: Sequence[str], nodes: Sequence[BaseNode]) -> _Change:
        rows, vectors = self._prepare(nodes)
        with self._write_lock:
            with self._transaction() as db:
                change = self._apply_to_db(db, list(doc_ids), rows, vectors)
            if rows:
                self._dim = vectors.shape[1]
            self._apply_to_cache(change)
        return change

    def _prepare(self, nodes: Sequence[BaseNode]) -> tuple[list[_Row], np.ndarray]:
        """Validate and serialise nodes before the transaction starts, so it stays short."""
        rows: list[_Row] = []
        for node in nodes:
            if not isinstance(node, TextNode):
                raise ValueError(f"node {node.node_id}: only text nodes can be indexed")
            shard, scope = _shard_of(node.metadata), node.metadata.get("scope")
            if not shard or not isinstance(scope, str) or not scope:
                raise ValueError(f"node {node.node_id}: metadata needs 'shard' (or 'guild') and 'scope'")
            doc_id = node.ref_doc_id or str(node.metadata.get("doc_id") or node.node_id)
            metadata = json.dumps(node_to_metadata_dict(node, remove_text=True), ensure_ascii=False)
            keywords = keyword_text(node.get_content(metadata_mode=MetadataMode.EMBED))
            rows.append(_Row(node.node_id, doc_id, shard, scope, node.get_content(), metadata, keywords))
        if len({row.node_id for row in rows}) != len(rows):
            raise ValueError("the same node id appears twice in one write")
        return rows, self._unit_vectors(nodes)

    def _unit_vectors(self, nodes: Sequence[BaseNode]) -> np.ndarray:
        dim = self._dimensions()
        if not nodes:
            return np.zeros((0, dim or 0), dtype=np.float32)
        sizes = {len(node.embedding) if node.embedding is not None else 0 for node in nodes}
        if 0 in sizes or len(sizes) != 1:
            raise ValueError("every node needs an embedding, all of the same length")
        (size,) = sizes
        if dim is not None and size != dim:
            raise ValueError(f"embeddings have {size} dimensions, the index {dim}: re-index after a change")
        matrix = np.asarray([node.embedding for node in nodes], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not np.all(np.isfinite(matrix)) or not np.all(norms > 0):
            raise ValueError("an embedding is zero or not finite")
        return matrix / norms

    def _dimensions(self) -> int | None:
        if self._dim is None:
            row = self._reader().execute("SELECT value FROM settings WHERE key = 'dimensions'").fetchone()
            self._dim = int(row[0]) if row else None
        return self._dim

    def _apply_to_db(
        self, db: sqlite3.Connection, doc_ids: list[str], rows: list[_Row], vectors: np.ndarray
    ) -> _Change:
        removed: list[tuple[int, str, str]] = []
        for batch in _batches(doc_ids):
            removed += db.execute(
                f"DELETE FROM chunks WHERE doc_id IN ({_marks(batch)}) RETURNING id, shard, scope", batch
            ).fetchall()
        for batch in _batches([row.node_id for row in rows]):
            removed += db.execute(
                f"DELETE FROM chunks WHERE node_id IN ({_marks(batch)}) RETURNING id, shard, scope", batch
            ).fetchall()
        for batch in _batches([rid for rid, _, _ in removed]):
            db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({_marks(batch)})", batch)
        ids = self._insert(db, rows, vectors)
        if rows:
            db.execute(
                "INSERT INTO settings (key, value) VALUES ('dimensions', ?) ON CONFLICT (key) DO NOTHING",
                (str(vectors.shape[1]),),
            )
        versions: dict[str, int] = {}
        for shard in sorted({s for _, s, _ in removed} | {row.shard for row in rows}):
            (versions[shard],) = db.execute(
                "INSERT INTO shards (shard, version) VALUES (?, 1)"
                " ON CONFLICT (shard) DO UPDATE SET version = version + 1 RETURNING version",
                (shard,),
            ).fetchone()
        return _Change(removed, ids, rows, vectors, versions)

    def _insert(self, db: sqlite3.Connection, rows: list[_Row], vectors: np.ndarray) -> np.ndarray:
        """Insert rows with explicit ascending ids (the cache keeps ids sorted per group)."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        (last,) = db.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'chunks'), 0),"
            " coalesce((SELECT max(id) FROM chunks), 0))"
        ).fetchone()
        ids = np.arange(last + 1, last + 1 + len(rows), dtype=np.int64)
        db.executemany(
            "INSERT INTO chunks (id, node_id, doc_id, shard, scope, text, metadata, embedding)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (int(i), r.node_id, r.doc_id, r.shard, r.scope, r.text, r.metadata, v.tobytes())
                for i, r, v in zip(ids, rows, vectors, strict=True)
            ),
        )
        db.executemany(
            "INSERT INTO chunks_fts (rowid, body) VALUES (?, ?)",
            ((int(i), r.keywords) for i, r in zip(ids, rows, strict=True)),
        )
        return ids

    def _apply_to_cache(self, change: _Change) -> None:
        with self._cache_lock:
            for shard, version in change.versions.items():
                cached = self._shards.get(shard)
                if cached is None or cached.version >= version:  # not cached, or loaded after this commit
                    continue
                if cached.version != version - 1:
                    # Someone else wrote this shard since we loaded it: reload on the next query.
                    del self._shards[shard]
                    continue
                gone: dict[str, list[int]] = {}
                for rid, s, scope in change.removed:
                    if s == shard:
                        gone.setdefault(scope, []).append(rid)
                for scope, rids in gone.items():
                    group = cached.groups.get(scope)
                    if group is not None:
                        group.remove(np.sort(np.asarray(rids, dtype=np.int64)))
                        if group.live == 0:
                            del cached.groups[scope]
                new: dict[str, list[int]] = {}
                for i, row in enumerate(change.added_rows):
                    if row.shard == shard:
                        new.setdefault(row.scope, []).append(i)
                for scope, positions in new.items():
                    ids, vectors = change.added_ids[positions], change.added_vectors[positions]
                    group = cached.groups.get(scope)
                    if group is None:
                        cached.groups[scope] = _Group.of(ids, vectors)
                    else:
                        group.append(ids, vectors)
                cached.version = version

    # -- reading -------------------------------------------------------------------------------------

    def chunk_count(self, doc_id: str) -> int:
        """How many chunks a document has in the index."""
        with self._in_use():
            row = self._reader().execute("SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()
        return int(row[0])

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
        query = np.asarray(query_vector, dtype=np.float32)
        dim = self._dimensions()
        if query.ndim != 1 or query.shape[0] != dim:
            raise ValueError(f"query vector has shape {query.shape}, the index {dim} dimensions")
        norm = float(np.linalg.norm(query))
        if not np.isfinite(norm) or norm == 0:
            return []
        query = query / norm
        with self._cache_lock:
            # Views of the used rows: appends and compaction never change what these see.
            parts = [
                (g.ids[: g.size], g.matrix[: g.size], g.alive[: g.size] if g.dead else None)
                for scope, g in cached.groups.items()
                if scope in scopes
            ]
        scores_parts, id_parts = [], []
        for ids, matrix, alive in parts:
            scores = matrix @ query
            if alive is not None:
                scores[~alive] = -np.inf
            scores_parts.append(scores)
            id_parts.append(ids)
        if not scores_parts:
            return []
        scores = np.concatenate(scores_parts) if len(scores_parts) > 1 else scores_parts[0]
        ids = np.concatenate(id_parts) if len(id_parts) > 1 else id_parts[0]
        if len(scores) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
        else:
            top = np.argsort(-scores, kind="stable")
        top = top[np.isfinite(scores[top])]
        return self._fetch(shard, scopes, [(int(ids[i]), float(scores[i])) for i in top])

    def keyword_search(
        self, shard: str, allowed_scopes: Iterable[str], query_text: str, k: int
    ) -> list[tuple[TextNode, float]]:
        """The k chunks of a shard, within the allowed scope keys, ranked by BM25 for the words of a text."""
        scopes = sorted(set(allowed_scopes))
        match = keyword_query(query_text)
        if k <= 0 or not scopes or not match:
            return []
        with self._in_use():
            rows = self._reader().execute(
                "SELECT c.id, c.shard, c.scope, c.text, c.metadata, bm25(chunks_fts) AS rank"
                " FROM chunks_fts JOIN chunks AS c ON c.id = chunks_fts.rowid"
                f" WHERE chunks_fts MATCH ? AND c.shard = ? AND c.scope IN ({_marks(scopes)})"
                " ORDER BY rank LIMIT ?",
                (match, shard, *scopes, k),
            ).fetchall()
        return [(_node(text, metadata), -float(rank)) for _, _, _, text, metadata, rank in rows]

    def _fetch(
        self, shard: str, scopes: set[str], ranked: list[tuple[int, float]]
    ) -> list[tuple[TextNode, float]]:
        if not ranked:
            return []
        ids = [rid for rid, _ in ranked]
        found = {
            rid: (s, scope, text, metadata)
            for rid, s, scope, text, metadata in self._reader().execute(
                f"SELECT id, shard, scope, text, metadata FROM chunks WHERE id IN ({_marks(ids)})", ids
            )
        }
        results = []
        for rid, score in ranked:
            row = found.get(rid)  # missing: deleted since the search began
            # The rows are checked again, so a stale cache can return less but never out of scope.
            if row is not None and row[0] == shard and row[1] in scopes:
                results.append((_node(row[2], row[3]), score))
        return results

    def _shard(self, shard: str) -> _Shard | None:
        """The shard's cached vectors, loaded or reloaded if the database has a newer version."""
        version = self._version(self._reader(), shard)
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

    @staticmethod
    def _version(db: sqlite3.Connection, shard: str) -> int:
        row = db.execute("SELECT version FROM shards WHERE shard = ?", (shard,)).fetchone()
        return int(row[0]) if row else 0

    def _load(self, shard: str) -> _Shard:
        """Read a shard's vectors in one read transaction, so they match the version read with them."""
        started = time.perf_counter()
        db = self._reader()
        dim = self._dimensions() or 0
        db.execute("BEGIN")
        try:
            version = self._version(db, shard)
            by_scope: dict[str, tuple[list[int], list[bytes]]] = {}
            for rid, scope, blob in db.execute(
                "SELECT id, scope, embedding FROM chunks WHERE shard = ? ORDER BY id", (shard,)
            ):
                ids, blobs = by_scope.setdefault(scope, ([], []))
                ids.append(rid)
                blobs.append(blob)
        finally:
            db.execute("COMMIT")
        groups = {
            scope: _Group.of(
                np.asarray(ids, dtype=np.int64),
                np.frombuffer(bytearray().join(blobs), dtype=np.float32).reshape(len(ids), dim),
            )
            for scope, (ids, blobs) in by_scope.items()
        }
        count, ms = sum(g.size for g in groups.values()), (time.perf_counter() - started) * 1e3
        log.debug("loaded shard %s: %d vectors in %.0f ms", shard, count, ms)
        return _Shard(version, groups)

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


# ---------------------------------------------------------------------------------------------------
# Helpers


def scope_filters(shard: str, allowed_scopes: Iterable[str]) -> MetadataFilters:
    """The MetadataFilters a LlamaIndex retriever passes to read one shard within some scope keys."""
    return MetadataFilters.from_dicts(
        [
            {"key": "shard", "value": shard, "operator": FilterOperator.EQ},
            {"key": "scope", "value": sorted(set(allowed_scopes)), "operator": FilterOperator.IN},
        ]
    )


def scope_of_filters(filters: MetadataFilters | None) -> tuple[str, set[str]]:
    """The (shard, scope keys) a query's filters allow; refuses filters that would not pin both down."""
    if filters is None:
        raise ValueError("a query must filter by shard (or guild) and scope")
    if filters.condition not in (None, FilterCondition.AND):
        raise ValueError("scope filters must be combined with AND")
    shards: set[str] = set()
    scopes: set[str] | None = None
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            raise ValueError("nested metadata filters are not supported")
        values = item.value if isinstance(item.value, list) else [item.value]
        if item.key in ("shard", "guild") and item.operator == FilterOperator.EQ:
            shards.add(str(item.value))
        elif item.key == "scope" and item.operator in (FilterOperator.EQ, FilterOperator.IN):
            allowed = {str(v) for v in values}
            scopes = allowed if scopes is None else scopes & allowed
        else:
            raise ValueError(f"unsupported filter: {item.key} {item.operator.value}")
    if len(shards) != 1 or scopes is None:
        raise ValueError("a query must filter by exactly one shard (or guild) and by scope")
    return shards.pop(), scopes


def _shard_of(metadata: dict[str, Any]) -> str | None:
    shard = metadata.get("shard")
    if shard is None and metadata.get("guild") is not None:
        shard = metadata["guild"]
    return str(shard) if shard not in (None, "") else None


def _node(text: str, metadata: str) -> TextNode:
    node = metadata_dict_to_node(json.loads(metadata), text=text)
    assert isinstance(node, TextNode)  # only text nodes are written
    return node


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _batches(values: list[str] | list[int]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _SQL_BATCH):
        yield values[start : start + _SQL_BATCH]
