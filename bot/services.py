"""The services the cogs use, created once from Settings and closed together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.chat import ChatService
from bot.config import Settings
from bot.images import ImageService
from bot.limits import Limits, UsageLedger
from bot.llm import LLM
from bot.moderation import Moderator
from bot.server_settings import ServerModerationPolicy, ServerSettings
from bot.store import Store
from bot.tokens import ensure_tiktoken_offline, get_encoding
from index.library import Library
from index.query import Answerer
from index.rewrite import parse_languages
from index.sizing import chunk_tokens_for, embed_tokens_for, overlap_for
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
    server_settings: ServerSettings
    limits: Limits
    moderation: Moderator

    @classmethod
    async def create(cls, settings: Settings) -> Services:
        """Open the database and build every service."""
        ensure_tiktoken_offline()
        store = await Store(settings.database_path).open()
        ledger = UsageLedger(store)
        llm = LLM(settings, on_usage=ledger.record)
        server_settings = ServerSettings(store, settings)
        try:
            # The token tables load in ~0.2 s: here, in a thread, rather than on the loop in the first turn.
            vectors, _ = await asyncio.gather(
                asyncio.to_thread(VectorStore.in_dir, settings.index_dir), asyncio.to_thread(get_encoding)
            )
        except BaseException:
            # An open database connection would keep the process from exiting.
            await llm.aclose()
            await store.close()
            raise
        chunk_tokens = chunk_tokens_for(settings.chunk_tokens)
        moderation = Moderator(llm, ServerModerationPolicy(server_settings))
        answerer = Answerer(vectors, llm, languages=parse_languages(settings.query_languages))
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
                retriever=answerer,
                ledger=ledger,
            ),
            images=ImageService(store, llm, settings, server=server_settings),
            vectors=vectors,
            library=Library(
                store,
                vectors,
                llm,
                max_bytes=settings.max_upload_bytes,
                chunk_tokens=chunk_tokens,
                overlap=overlap_for(chunk_tokens),
                embed_tokens=embed_tokens_for(settings.embed_model, settings.embed_max_tokens),
            ),
            answerer=answerer,
            server_settings=server_settings,
            limits=Limits(store, server_settings, ledger=ledger),
            moderation=moderation,
        )

    async def start(self) -> None:
        """Work that must run once before serving: finish or undo ingests a crash cut off."""
        found = await self.library.recover()
        if found:
            log.info("cleaned up %d interrupted document uploads", found)

    async def aclose(self) -> None:
        """Close connections and stop the document worker process."""
        await self.library.aclose()
        await self.llm.aclose()
        await asyncio.to_thread(self.vectors.close)
        await self.store.close()
