"""The services the cogs use, created once from Settings and closed together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.chat import ChatService
from bot.config import Settings
from bot.images import ImageService
from bot.llm import LLM
from bot.store import Store
from bot.tokens import ensure_tiktoken_offline
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
    vectors: VectorStore
    library: Library
    answerer: Answerer

    @classmethod
    async def create(cls, settings: Settings) -> Services:
        """Open the database and build every service."""
        ensure_tiktoken_offline()
        store = await Store(settings.database_path).open()
        llm = LLM(settings, on_usage=store.record_usage)
        vectors = await asyncio.to_thread(VectorStore.in_dir, settings.index_dir)
        return cls(
            settings=settings,
            store=store,
            llm=llm,
            chat=ChatService(store, llm, settings),
            images=ImageService(store, llm, settings),
            vectors=vectors,
            library=Library(store, vectors, llm, max_bytes=settings.max_upload_bytes),
            answerer=Answerer(vectors, llm),
        )

    async def start(self) -> None:
        """Work that must run once before serving: finish or undo ingests a crash cut off."""
        found = await self.library.recover()
        if found:
            log.info("cleaned up %d interrupted document uploads", found)

    async def aclose(self) -> None:
        """Close connections."""
        await self.llm.aclose()
        await asyncio.to_thread(self.vectors.close)
        await self.store.close()
