"""The services the cogs use, created once from Settings and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat import ChatService
from bot.config import Settings
from bot.llm import LLM
from bot.store import Store
from bot.tokens import ensure_tiktoken_offline


@dataclass
class Services:
    """Store, provider and the feature services built on them."""

    settings: Settings
    store: Store
    llm: LLM
    chat: ChatService

    @classmethod
    async def create(cls, settings: Settings) -> Services:
        """Open the database and build every service."""
        ensure_tiktoken_offline()
        store = await Store(settings.database_path).open()
        llm = LLM(settings, on_usage=store.record_usage)
        return cls(settings=settings, store=store, llm=llm, chat=ChatService(store, llm, settings))

    async def aclose(self) -> None:
        """Close connections."""
        await self.llm.aclose()
        await self.store.close()
