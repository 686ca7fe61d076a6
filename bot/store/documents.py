"""Document records: what was indexed, where it may be seen, and whether its ingest finished."""

from __future__ import annotations

from collections.abc import Iterable

from bot.store.core import StoreCore
from bot.store.records import _DOC_COLUMNS, DocumentRecord


class DocumentsMixin(StoreCore):
    """The Store's document records."""

    async def add_document(self, doc: DocumentRecord) -> None:
        """Record a document (normally with status 'indexing' until its chunks are in)."""
        await self.db.execute(
            f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.id,
                doc.shard,
                doc.scope,
                doc.scope_key,
                doc.guild_id,
                doc.channel_id,
                doc.name,
                doc.kind,
                doc.size,
                doc.sha256,
                doc.pages,
                doc.chunks,
                doc.uploader_id,
                doc.uploader_name,
                doc.status,
                doc.created_at,
            ),
        )

    async def finish_document(self, doc_id: str, chunks: int, replaced: list[str]) -> None:
        """Mark a document ready and drop the records it replaces, in one transaction."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE documents SET status = 'ready', chunks = ? WHERE id = ?", (chunks, doc_id)
            )
            await db.executemany("DELETE FROM documents WHERE id = ?", [(r,) for r in replaced])

    async def delete_document(self, doc_id: str) -> None:
        """Forget a document record."""
        await self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    async def document(self, doc_id: str) -> DocumentRecord | None:
        """One document by id."""
        async with self.db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return DocumentRecord(*row) if row else None

    async def documents(
        self,
        scope_keys: Iterable[str],
        *,
        name: str | None = None,
        sha256: str | None = None,
        status: str | None = "ready",
    ) -> list[DocumentRecord]:
        """Documents in any of the scopes, optionally by exact name or content hash, newest first."""
        keys = list(scope_keys)
        if not keys:
            return []
        sql = f"SELECT {_DOC_COLUMNS} FROM documents WHERE scope_key IN ({','.join('?' * len(keys))})"
        args: list[object] = list(keys)
        for column, value in (("name", name), ("sha256", sha256), ("status", status)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        async with self.db.execute(sql + " ORDER BY created_at DESC", args) as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    async def document_ids(self) -> set[str]:
        """The id of every document record, in one query (start-up's check for chunks left over)."""
        async with self.db.execute("SELECT id FROM documents") as cur:
            return {str(row[0]) for row in await cur.fetchall()}

    async def unfinished_documents(self) -> list[DocumentRecord]:
        """Documents whose ingest never finished (a crash or a kill mid-way)."""
        async with self.db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE status = 'indexing'") as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    async def documents_uploaded_by(self, user_id: int) -> list[DocumentRecord]:
        """Ready documents a user uploaded, anywhere, newest first."""
        async with self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE uploader_id = ? AND status = 'ready'"
            " ORDER BY created_at DESC",
            (user_id,),
        ) as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    async def documents_added(self, *, guild_id: int | None, uploader_id: int | None, since: float) -> int:
        """Ready documents added since a time in one server (None: DMs), by one user or anyone."""
        sql = "SELECT COUNT(*) FROM documents WHERE guild_id IS ? AND created_at >= ? AND status = 'ready'"
        args: list[object] = [guild_id, since]
        if uploader_id is not None:
            sql += " AND uploader_id = ?"
            args.append(uploader_id)
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def has_documents(self, scope_keys: Iterable[str]) -> bool:
        """Whether any ready document is in one of the scopes."""
        keys = list(scope_keys)
        if not keys:
            return False
        sql = f"SELECT 1 FROM documents WHERE scope_key IN ({','.join('?' * len(keys))}) AND status = 'ready'"
        async with self.db.execute(sql + " LIMIT 1", keys) as cur:
            return await cur.fetchone() is not None
