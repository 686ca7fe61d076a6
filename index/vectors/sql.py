"""The SQLite side of the store: schema, connections, and the statements that read and write chunks.

Every chunk (text, node JSON, unit-length float32 embedding, shard, scope key) and its keyword-index
entry live in one table pair; a per-shard version counts the writes to each shard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from index.vectors.rows import Row

DB_NAME = "chunks.sqlite3"
SCHEMA_VERSION = 1
_SQL_BATCH = 500

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


class VectorStoreError(Exception):
    """The index file cannot be used (written by a newer version, or closed)."""


def connect(path: str) -> sqlite3.Connection:
    """A connection in WAL mode that waits for locks and syncs every commit to disk."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: once a document's record says "ready" its chunks must survive a power cut too.
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Create the schema in a new file; refuse a file written by a newer schema."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise VectorStoreError(f"{path} was written by a newer teambot (schema {version})")
    if version == 0:
        db.executescript(f"BEGIN;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")


# -- writing (inside the caller's transaction)


def delete_chunks(
    db: sqlite3.Connection, doc_ids: list[str], node_ids: list[str]
) -> list[tuple[int, str, str]]:
    """Delete chunks by document and by node id, with their keyword entries; returns (id, shard, scope)s."""
    removed: list[tuple[int, str, str]] = []
    for batch in _batches(doc_ids):
        removed += db.execute(
            f"DELETE FROM chunks WHERE doc_id IN ({_marks(batch)}) RETURNING id, shard, scope", batch
        ).fetchall()
    for batch in _batches(node_ids):
        removed += db.execute(
            f"DELETE FROM chunks WHERE node_id IN ({_marks(batch)}) RETURNING id, shard, scope", batch
        ).fetchall()
    for batch in _batches([rid for rid, _, _ in removed]):
        db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({_marks(batch)})", batch)
    return removed


def insert_rows(db: sqlite3.Connection, rows: list[Row], vectors: np.ndarray) -> np.ndarray:
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


def record_dimensions(db: sqlite3.Connection, dim: int) -> None:
    """Remember the embedding size of the first vectors written."""
    db.execute(
        "INSERT INTO settings (key, value) VALUES ('dimensions', ?) ON CONFLICT (key) DO NOTHING",
        (str(dim),),
    )


def bump_versions(db: sqlite3.Connection, shards: Iterable[str]) -> dict[str, int]:
    """Count one more write to each shard; returns their new versions."""
    versions: dict[str, int] = {}
    for shard in sorted(shards):
        (versions[shard],) = db.execute(
            "INSERT INTO shards (shard, version) VALUES (?, 1)"
            " ON CONFLICT (shard) DO UPDATE SET version = version + 1 RETURNING version",
            (shard,),
        ).fetchone()
    return versions


# -- reading


def read_dimensions(db: sqlite3.Connection) -> int | None:
    """The embedding size of the index, or None before anything is written."""
    row = db.execute("SELECT value FROM settings WHERE key = 'dimensions'").fetchone()
    return int(row[0]) if row else None


def shard_version(db: sqlite3.Connection, shard: str) -> int:
    """How many writes a shard has had (0: never written)."""
    row = db.execute("SELECT version FROM shards WHERE shard = ?", (shard,)).fetchone()
    return int(row[0]) if row else 0


def vectors_by_scope(db: sqlite3.Connection, shard: str) -> dict[str, tuple[list[int], list[bytes]]]:
    """A shard's row ids and embedding blobs per scope key, ids ascending."""
    by_scope: dict[str, tuple[list[int], list[bytes]]] = {}
    for rid, scope, blob in db.execute(
        "SELECT id, scope, embedding FROM chunks WHERE shard = ? ORDER BY id", (shard,)
    ):
        ids, blobs = by_scope.setdefault(scope, ([], []))
        ids.append(rid)
        blobs.append(blob)
    return by_scope


def rows_by_id(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str, str, str, str]]:
    """(shard, scope, text, metadata) of the rows with these ids that still exist."""
    return {
        rid: (s, scope, text, metadata)
        for rid, s, scope, text, metadata in db.execute(
            f"SELECT id, shard, scope, text, metadata FROM chunks WHERE id IN ({_marks(ids)})", ids
        )
    }


def keyword_rows(
    db: sqlite3.Connection, match: str, shard: str, scopes: list[str], k: int
) -> list[tuple[str, str, float]]:
    """(text, metadata, BM25 rank) of the k best keyword matches in a shard's allowed scope keys."""
    rows = db.execute(
        "SELECT c.id, c.shard, c.scope, c.text, c.metadata, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks AS c ON c.id = chunks_fts.rowid"
        f" WHERE chunks_fts MATCH ? AND c.shard = ? AND c.scope IN ({_marks(scopes)})"
        " ORDER BY rank LIMIT ?",
        (match, shard, *scopes, k),
    ).fetchall()
    return [(text, metadata, rank) for _, _, _, text, metadata, rank in rows]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _batches(values: list[str] | list[int]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _SQL_BATCH):
        yield values[start : start + _SQL_BATCH]
