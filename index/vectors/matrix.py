"""The in-memory side of the store: each shard's vectors as numpy matrices, one per scope key, and the
cosine search over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.vectors.rows import Change

# Tombstoned rows are compacted away once they are this many and a quarter of their group.
COMPACT_MIN_DEAD = 1024

Part = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # (ids, matrix, alive or None if none are dead)


@dataclass(slots=True)
class Group:
    """One scope key's vectors in a shard: rows [0, size) in use, ids ascending, `alive` false if deleted."""

    ids: np.ndarray
    matrix: np.ndarray
    alive: np.ndarray
    size: int
    dead: int = 0

    @classmethod
    def of(cls, ids: np.ndarray, matrix: np.ndarray) -> Group:
        """A group holding exactly these rows."""
        return cls(ids, matrix, np.ones(len(ids), dtype=bool), len(ids))

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows with ids above every id already here."""
        need = self.size + len(ids)
        if need > len(self.ids):
            # New arrays rather than in-place resize: a search running on the old ones stays valid.
            capacity = max(need, len(self.ids) * 3 // 2, 64)
            grown = Group(
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
        if self.dead >= COMPACT_MIN_DEAD and self.dead * 4 >= self.size:
            keep = np.flatnonzero(self.alive[: self.size])
            self.ids, self.matrix = self.ids[keep], self.matrix[keep]
            self.alive = np.ones(len(keep), dtype=bool)
            self.size, self.dead = len(keep), 0

    @property
    def live(self) -> int:
        """How many rows are not tombstoned."""
        return self.size - self.dead


@dataclass(slots=True)
class Shard:
    """A shard's cached vectors, at a version of the database."""

    version: int
    groups: dict[str, Group]

    def views(self, scopes: set[str]) -> list[Part]:
        """Views of the used rows of the allowed scope keys' groups (call under the cache lock)."""
        return [
            (g.ids[: g.size], g.matrix[: g.size], g.alive[: g.size] if g.dead else None)
            for scope, g in self.groups.items()
            if scope in scopes
        ]


def groups_of(by_scope: dict[str, tuple[list[int], list[bytes]]], dim: int) -> dict[str, Group]:
    """Groups built from each scope key's row ids and embedding blobs (float32, `dim` each)."""
    return {
        scope: Group.of(
            np.asarray(ids, dtype=np.int64),
            np.frombuffer(bytearray().join(blobs), dtype=np.float32).reshape(len(ids), dim),
        )
        for scope, (ids, blobs) in by_scope.items()
    }


def apply_change(shards: dict[str, Shard], change: Change) -> None:
    """Mirror a committed change in the cached shards (call under the cache lock)."""
    for shard, version in change.versions.items():
        cached = shards.get(shard)
        if cached is None or cached.version >= version:  # not cached, or loaded after this commit
            continue
        if cached.version != version - 1:
            # Someone else wrote this shard since we loaded it: reload on the next query.
            del shards[shard]
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
                cached.groups[scope] = Group.of(ids, vectors)
            else:
                group.append(ids, vectors)
        cached.version = version


def unit_query(query: np.ndarray, dim: int | None) -> np.ndarray | None:
    """The query vector at unit length; None if it is zero or not finite, ValueError if the wrong shape."""
    if query.ndim != 1 or query.shape[0] != dim:
        raise ValueError(f"query vector has shape {query.shape}, the index {dim} dimensions")
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm == 0:
        return None
    return query / norm


def rank(parts: Sequence[Part], query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ids and cosine scores of the k live rows most similar to a unit query, best first."""
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
    return [(int(ids[i]), float(scores[i])) for i in top]
