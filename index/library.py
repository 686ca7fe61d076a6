"""Team documents: add (parse, chunk, embed, index), list, remove, with scopes that never leak."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from llama_index.core.schema import TextNode

from bot.errors import UserError
from bot.files import safe_filename, too_large
from bot.i18n import Msg
from bot.llm import LLM, Who
from bot.store import DocumentRecord, Store
from index.chunking import DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP
from index.vectors import VectorStore
from index.where import Where
from index.worker import ParseWorker, Prepared, nodes_of, prepare

log = logging.getLogger(__name__)

EMBED_BATCH = 64
EMBED_CONCURRENCY = 4
SCOPES = ("server", "channel")
Progress = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class AddResult:
    """What happened to one uploaded file."""

    name: str
    status: str  # "indexed", "replaced", "unchanged"
    record: DocumentRecord
    seconds: float = 0.0


class Library:
    """The document pipeline shared by /docs add, mentions with files, watched channels and the CLI."""

    def __init__(
        self,
        store: Store,
        vectors: VectorStore,
        llm: LLM,
        *,
        max_bytes: int,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        overlap: int = DEFAULT_OVERLAP,
        embed_tokens: int | None = None,
        worker: ParseWorker | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.llm = llm
        self.max_bytes = max_bytes
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self.embed_tokens = embed_tokens
        self.worker = worker or ParseWorker()
        self._embed_slots = asyncio.Semaphore(EMBED_CONCURRENCY)
        # Per (kind, scope key, name or content hash); entries live while someone holds or awaits them.
        self._locks: dict[tuple[str, str, str], tuple[asyncio.Lock, int]] = {}

    def check_size(self, filename: str, size: int) -> None:
        """Refuse a file over the size limit before downloading it."""
        if size > self.max_bytes:
            raise too_large(safe_filename(filename), size, self.max_bytes)

    @contextlib.asynccontextmanager
    async def _locked(self, *keys: tuple[str, str, str]) -> AsyncIterator[None]:
        """Hold the locks for these keys, taken in the order given (callers always name a document's
        name before its content hash, so two holders never wait on each other)."""
        async with contextlib.AsyncExitStack() as stack:
            for key in keys:
                lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
                self._locks[key] = (lock, users + 1)
                stack.callback(self._release, key)
                await stack.enter_async_context(lock)
            yield

    def _release(self, key: tuple[str, str, str]) -> None:
        lock, users = self._locks[key]
        if users > 1:
            self._locks[key] = (lock, users - 1)
        else:
            del self._locks[key]

    async def recover(self) -> int:
        """Finish or undo ingests cut off by a crash, and drop chunks whose record is gone (a crash after
        a replacement committed but before the old version's chunks were deleted); returns how many
        unfinished ingests were found."""
        unfinished = await self.store.unfinished_documents()
        for doc in unfinished:
            chunks = await asyncio.to_thread(self.vectors.chunk_count, doc.id)
            if chunks:  # the new version's chunks are all in; only the record's last step was lost
                replaced = [
                    d.id for d in await self.store.documents([doc.scope_key], name=doc.name) if d.id != doc.id
                ]
                await self.store.finish_document(doc.id, chunks, replaced)
                await self._drop_chunks(replaced)
            else:
                await self.store.delete_document(doc.id)
        # Records are written before their chunks and deleted after them, so chunks with no record are
        # left over, never an ingest in flight.
        # One query each side, not one per document: this runs at every start-up.
        recorded = await self.store.document_ids()
        for doc_id in await asyncio.to_thread(self.vectors.doc_ids) - recorded:
            log.info("dropping the chunks of document %s, which has no record", doc_id)
            await asyncio.to_thread(self.vectors.delete_document, doc_id)
        return len(unfinished)

    async def add(
        self,
        data: bytes,
        filename: str,
        where: Where,
        *,
        uploader_id: int,
        uploader_name: str,
        scope: str = "server",
        progress: Progress | None = None,
    ) -> AddResult:
        """Index one file; the same content again is a no-op, the same name with new content replaces."""
        started = time.monotonic()
        name = safe_filename(filename)
        scope, key = where.scope_key(scope)
        self.check_size(name, len(data))
        digest = hashlib.sha256(data).hexdigest()
        # By name, so one name's versions replace each other in order; by content, so the same bytes under
        # two names at once are indexed once, like one after the other.
        async with self._locked(("name", key, name), ("sha256", key, digest)):
            same = await self.store.documents([key], sha256=digest)
            if same:
                return AddResult(name, "unchanged", same[0])
            await _say(progress, Msg("Reading **{name}**…", name=name))
            doc_id = uuid.uuid4().hex
            extra = {
                "shard": where.shard,
                "scope": key,
                "uploader": uploader_name,
                "guild": where.guild_id,
                "channel": where.channel_id,
            }
            prepared = await self.worker.run(
                name,
                prepare,
                data,
                name,
                max_bytes=self.max_bytes,
                doc_id=doc_id,
                extra=extra,
                chunk_tokens=self.chunk_tokens,
                overlap=self.overlap,
                embed_tokens=self.embed_tokens,
            )
            if not prepared.chunks:
                raise UserError(
                    "'{name}' has no text in it, so there is nothing to index.",
                    kind="empty",
                    params={"name": name},
                )
            record = DocumentRecord(
                doc_id,
                where.shard,
                scope,
                key,
                where.guild_id,
                where.channel_id,
                name,
                prepared.kind,
                len(data),
                digest,
                prepared.pages,
                0,
                uploader_id,
                uploader_name,
                "indexing",
                time.time(),
            )
            old = [d.id for d in await self.store.documents([key], name=name)]
            await self.store.add_document(record)
            try:
                who = Who(where.guild_id, uploader_id, "documents")
                nodes = await self._embed(prepared, who, name, progress)
            except BaseException:
                # A failed upload leaves no trace; nothing was written to the index yet.
                await asyncio.shield(self._undo(doc_id))
                raise
            await _settled(asyncio.create_task(self._commit(doc_id, nodes, old)))
        done = await self.store.document(doc_id)
        assert done is not None
        return AddResult(name, "replaced" if old else "indexed", done, time.monotonic() - started)

    async def _commit(self, doc_id: str, nodes: list[TextNode], old: list[str]) -> None:
        """Put a new version in place of the old ones. The new chunks go in beside the old; the record
        switch (new ready, old records gone, one transaction) is the commit point; only then are the old
        chunks deleted. A failure before the switch leaves the old version whole, after it the new."""
        try:
            await asyncio.to_thread(self.vectors.replace_document, [], nodes)
            await self.store.finish_document(doc_id, len(nodes), old)
        except BaseException:
            await self._undo(doc_id)
            raise
        await self._drop_chunks(old)

    async def _drop_chunks(self, doc_ids: list[str]) -> None:
        """Delete replaced versions' chunks; on failure they wait, unlisted, for the next `recover`."""
        for doc_id in doc_ids:
            try:
                await asyncio.to_thread(self.vectors.delete_document, doc_id)
            except Exception:
                log.exception("could not delete the replaced document %s's chunks; recover() will", doc_id)

    async def _undo(self, doc_id: str) -> None:
        try:
            await asyncio.to_thread(self.vectors.delete_document, doc_id)
        finally:
            await self.store.delete_document(doc_id)

    async def _embed(
        self, prepared: Prepared, who: Who, name: str, progress: Progress | None
    ) -> list[TextNode]:
        """The upload's nodes with their embeddings, fetched in batches, a few batches at a time, reporting
        progress; a chunk longer than the embedding model reads was planned as windows and gets their
        length-weighted mean."""
        texts, owner, total = prepared.texts, prepared.owner, len(prepared.chunks)
        parts: list[list[tuple[int, list[float]]]] = [[] for _ in range(total)]
        batches = [range(i, min(i + EMBED_BATCH, len(texts))) for i in range(0, len(texts), EMBED_BATCH)]
        done = 0

        async def one(batch: range) -> None:
            nonlocal done
            async with self._embed_slots:
                vectors = await self.llm.embed([texts[i] for i in batch], who=who)
            if len(vectors) != len(batch):
                raise UserError(
                    "The embedding service answered incompletely. Please try again.", kind="bad_response"
                )
            for i, vector in zip(batch, vectors, strict=True):
                parts[owner[i]].append((len(texts[i]), vector))
            done += len(batch)
            await _say(
                progress,
                Msg(
                    "Indexing **{name}**: {done} of {total} chunks embedded…",
                    name=name,
                    done=done * total // len(texts),
                    total=total,
                ),
            )

        await asyncio.gather(*(one(b) for b in batches))
        # Hundreds of pydantic nodes and their mean vectors are too much work for the loop: a thread.
        return await asyncio.to_thread(_embedded_nodes, prepared, parts)

    async def visible(self, where: Where) -> list[DocumentRecord]:
        """The ready documents a channel may see."""
        return await self.store.documents(where.visible_scopes())

    async def remove(self, doc_id: str, where: Where, *, user_id: int, can_manage: bool) -> DocumentRecord:
        """Remove a visible document, picked from the suggestions (its id) or typed (its exact name): by its
        uploader, or someone who manages the server."""
        visible = await self.visible(where)
        doc = next((d for d in visible if d.id == doc_id), None)
        if doc is None:  # typed rather than picked: a name that is one document's is as good as its id
            named = [d for d in visible if d.name.casefold() == doc_id.strip().casefold()]
            if len(named) > 1:
                raise UserError(
                    "Several documents here are called '{name}'. Pick one from the list.",
                    kind="ambiguous", params={"name": named[0].name},
                )
            doc = named[0] if named else None
        if doc is None:
            raise UserError("I can't find that document here. Pick one from the list.", kind="not_found")
        if doc.uploader_id != user_id and not can_manage:
            raise UserError(
                "Only {uploader}, who added '{name}', or someone with Manage Server can remove it.",
                kind="forbidden",
                params={"uploader": doc.uploader_name, "name": doc.name},
            )
        async with self._locked(("name", doc.scope_key, doc.name)):  # not while a new version goes in
            if await self.store.document(doc.id) is None:  # replaced (or removed) while we waited
                raise UserError("I can't find that document here. Pick one from the list.", kind="not_found")
            await asyncio.to_thread(self.vectors.delete_document, doc.id)
            await self.store.delete_document(doc.id)
        return doc

    async def uploaded_by(self, user_id: int) -> list[DocumentRecord]:
        """Every ready document a user uploaded, in any server, channel or DM."""
        return await self.store.documents_uploaded_by(user_id)

    async def aclose(self) -> None:
        """Stop the document worker process."""
        await self.worker.aclose()

    async def forget_uploader(self, user_id: int) -> list[DocumentRecord]:
        """Remove every document a user uploaded, vectors first so no chunk outlives its record."""
        removed = []
        for doc in await self.uploaded_by(user_id):
            async with self._locked(("name", doc.scope_key, doc.name)):
                await asyncio.to_thread(self.vectors.delete_document, doc.id)
                await self.store.delete_document(doc.id)
            removed.append(doc)
        return removed


def _mean(windows: list[tuple[int, list[float]]]) -> list[float]:
    """One vector for a chunk from its windows' vectors, each counted by its length."""
    if len(windows) == 1:
        return windows[0][1]
    matrix = np.asarray([vector for _, vector in windows], dtype=np.float64)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    mean = np.asarray([weight for weight, _ in windows], dtype=np.float64) @ matrix
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).tolist()


async def _settled(task: asyncio.Task[None]) -> None:
    """Await a task that must not be left half-done: a cancellation waits for it to finish (the caller
    holds the locks its writes rely on), then is raised; otherwise the task's outcome is."""
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("a cancelled upload's commit failed and was undone", exc_info=task.exception())
        raise cancelled
    await task


async def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        await progress(text)


def _embedded_nodes(prepared: Prepared, parts: list[list[tuple[int, list[float]]]]) -> list[TextNode]:
    """The upload's nodes, each with the length-weighted mean of its windows' vectors."""
    nodes = nodes_of(prepared)
    for node, windows in zip(nodes, parts, strict=True):
        node.embedding = _mean(windows)
    return nodes
