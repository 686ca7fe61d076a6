"""The document index's services (vector store, library, answerer), opened in a thread.

LlamaIndex takes about a second to import, more than anything else the bot loads. `python -m bot` opens
the index in a thread while it connects to Discord instead of before, and a request that needs the
documents in that second waits for them. Nothing else on the way to the gateway imports LlamaIndex
(tests/bot/test_startup.py checks). If the index can't be opened, documents are unavailable, with a
message that says so; chat, code help and images keep working.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import UserError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.llm import LLM, Who
    from bot.store import DocumentRecord, Store
    from index.library import Library
    from index.query import Answerer, Source
    from index.vectors import VectorStore
    from index.where import Where

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "Documents are unavailable right now: I couldn't open the document index. "
    "The bot's host can see why in its log."
)


@dataclass
class DocsStack:
    """The opened index and the services built on it."""

    vectors: VectorStore
    library: Library
    answerer: Answerer


def open_index(index_dir: Path) -> VectorStore:
    """In a thread: import LlamaIndex and the document pipeline, and open the vector store."""
    import index.library  # noqa: F401  (the pipeline's imports, LlamaIndex among them: here, off the loop)
    from index.vectors import VectorStore

    return VectorStore.in_dir(index_dir)


class Documents:
    """Opens the document index once, recovers ingests a crash cut off, and hands the services out."""

    def __init__(self, settings: Settings, store: Store, llm: LLM) -> None:
        self.settings = settings
        self.store = store
        self.llm = llm
        self._opening: asyncio.Task[DocsStack] | None = None
        self._starting: asyncio.Task[int] | None = None
        self._closed = False

    @property
    def stack(self) -> DocsStack | None:
        """The services once the index is open, else None."""
        task = self._opening
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def opened(self) -> DocsStack:
        """Open the index (once) and return its services; raises what went wrong, as it is."""
        if self._closed:
            raise RuntimeError("the document index is closed")
        if self._opening is None:
            self._opening = asyncio.create_task(self._open(), name="open-documents")
        return await asyncio.shield(self._opening)

    def start(self) -> asyncio.Task[int]:
        """Open the index and finish or undo the ingests a crash cut off, once; the task's result is how
        many there were, or the error that stopped it."""
        if self._starting is None:
            self._starting = asyncio.create_task(self._recover(), name="recover-documents")
        return self._starting

    def start_in_background(self) -> None:
        """start(), for the bot: a failure is logged once, and requests then say documents are unavailable
        (a failed recovery alone only leaves its uploads to the next start)."""
        self.start().add_done_callback(self._log_failure)

    async def ready(self) -> DocsStack:
        """For a request: the services once the index is open (and recovered, if that was started); a
        UserError the user can read if it can't be opened."""
        if self._starting is not None:
            await asyncio.wait({self._starting})  # its own failure is logged; the index may still be open
        try:
            return await self.opened()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this request is being cancelled, not the opening
            raise UserError(UNAVAILABLE, kind="documents_unavailable") from None
        except Exception as exc:
            raise UserError(UNAVAILABLE, kind="documents_unavailable") from exc

    async def visible(self, where: Where) -> list[DocumentRecord]:
        """The ready documents a channel may see: from the database, so also while the index is opening
        or can't be (after any recovery, which may finish or drop an upload)."""
        if self._starting is not None:
            await asyncio.wait({self._starting})
        return await self.store.documents(where.visible_scopes())

    async def library(self) -> Library:
        """The upload pipeline, once the index is open."""
        return (await self.ready()).library

    async def answerer(self) -> Answerer:
        """Cited answers from the index, once it is open."""
        return (await self.ready()).answerer

    async def chat_sources(self, text: str, where: Where, *, who: Who) -> list[Source]:
        """Passages for a chat turn (ChatService's retriever)."""
        return await (await self.answerer()).chat_sources(text, where, who=who)

    async def aclose(self) -> None:
        """Wait for opening and recovery to end (a thread can't be cancelled), then close what was
        opened; later requests get "unavailable"."""
        self._closed = True
        pending = [t for t in (self._starting, self._opening) if t is not None and not t.done()]
        if pending:
            await asyncio.wait(pending)
        stack, self._opening = self.stack, None
        if stack is not None:
            await stack.library.aclose()
            await asyncio.to_thread(stack.vectors.close)

    async def _open(self) -> DocsStack:
        settings = self.settings
        opening = asyncio.get_running_loop().run_in_executor(None, open_index, settings.index_dir)
        try:
            vectors = await asyncio.shield(opening)
        except asyncio.CancelledError:  # the thread goes on: close the store it opens
            opening.add_done_callback(_close_when_opened)
            raise
        except Exception as exc:
            where = settings.index_dir
            raise IndexUnavailable(f"the document index in {where} can't be opened ({exc})") from exc
        try:
            # Already imported by the thread: these cost nothing here.
            from index.library import Library
            from index.query import Answerer
            from index.rewrite import parse_languages
            from index.sizing import chunk_tokens_for, embed_tokens_for, overlap_for

            chunk_tokens = chunk_tokens_for(settings.chunk_tokens)
            library = Library(
                self.store,
                vectors,
                self.llm,
                max_bytes=settings.max_upload_bytes,
                chunk_tokens=chunk_tokens,
                overlap=overlap_for(chunk_tokens),
                embed_tokens=embed_tokens_for(settings.embed_model, settings.embed_max_tokens),
            )
            answerer = Answerer(vectors, self.llm, languages=parse_languages(settings.query_languages))
        except BaseException:
            await asyncio.to_thread(vectors.close)
            raise
        return DocsStack(vectors, library, answerer)

    async def _recover(self) -> int:
        stack = await self.opened()
        try:
            found = await stack.library.recover()
        except Exception as exc:
            raise RecoveryFailed from exc
        if found:
            log.info("cleaned up %d interrupted document uploads", found)
        return found

    def _log_failure(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None or self._closed:
            return
        error = task.exception()
        if isinstance(error, RecoveryFailed):
            log.error("could not finish or undo interrupted document uploads (the next start tries again)",
                      exc_info=error.__cause__)
        else:
            log.error("could not open the document index, so documents are unavailable", exc_info=error)


class IndexUnavailable(Exception):
    """The document index can't be opened (a damaged or foreign file, no permission, ...)."""


class RecoveryFailed(Exception):
    """Finishing or undoing the ingests a crash cut off failed (the index itself is open)."""


def _close_when_opened(opening: asyncio.Future[VectorStore]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
