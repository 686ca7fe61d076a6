"""The services the cogs use, created once from Settings and closed together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat import ChatService
from bot.config import Settings
from bot.documents import DocsStack, Documents
from bot.images import ImageService
from bot.limits import Limits, UsageLedger
from bot.llm import LLM
from bot.moderation import Moderator
from bot.server_settings import ServerModerationPolicy, ServerSettings
from bot.store import Store
from bot.tokens import ensure_tiktoken_offline, get_encoding

if TYPE_CHECKING:
    from index.library import Library
    from index.query import Answerer
    from index.vectors import VectorStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Store, provider and the feature services built on them."""

    settings: Settings
    store: Store
    llm: LLM
    chat: ChatService
    images: ImageService
    documents: Documents
    server_settings: ServerSettings
    limits: Limits
    moderation: Moderator

    @classmethod
    async def create(cls, settings: Settings, *, open_documents: bool = True) -> Services:
        """Open the database and build every service; the document index too, unless `open_documents`
        is False (`python -m bot` opens it while it connects: bot/documents.py)."""
        ensure_tiktoken_offline()
        store = await Store(settings.database_path).open()
        ledger = UsageLedger(store)
        llm = LLM(settings, on_usage=ledger.record)
        server_settings = ServerSettings(store, settings)
        documents = Documents(settings, store, llm)
        try:
            # The token tables load in ~0.2 s: here, in a thread, rather than on the loop in the first turn.
            encoding = asyncio.to_thread(get_encoding)
            await (asyncio.gather(encoding, documents.opened()) if open_documents else encoding)
        except BaseException:
            # An open database connection would keep the process from exiting.
            await documents.aclose()
            await llm.aclose()
            await store.close()
            raise
        moderation = Moderator(llm, ServerModerationPolicy(server_settings))
        return cls(
            settings=settings,
            store=store,
            llm=llm,
            chat=ChatService(
                store,
                llm,
                settings,
                server=server_settings,
                moderation=moderation,
                retriever=documents,
                ledger=ledger,
            ),
            images=ImageService(store, llm, settings, server=server_settings),
            documents=documents,
            server_settings=server_settings,
            limits=Limits(store, server_settings, ledger=ledger),
            moderation=moderation,
        )

    @property
    def vectors(self) -> VectorStore:
        """The vector store (the document index must be open: `await services.documents.opened()`)."""
        return self._documents_open().vectors

    @property
    def library(self) -> Library:
        """The document pipeline (the index must be open)."""
        return self._documents_open().library

    @property
    def answerer(self) -> Answerer:
        """Cited answers from the documents (the index must be open)."""
        return self._documents_open().answerer

    def _documents_open(self) -> DocsStack:
        stack = self.documents.stack
        if stack is None:
            raise RuntimeError("the document index is not open yet: await services.documents.opened() first")
        return stack

    async def start(self) -> None:
        """Work that must run once before serving: open the document index and finish or undo the
        ingests a crash cut off."""
        await self.documents.start()

    async def aclose(self) -> None:
        """Close connections and stop the document worker process."""
        await self.documents.aclose()
        await self.llm.aclose()
        await self.store.close()
