"""All SQL of the bot, over one aiosqlite connection in WAL mode, split by area into mixins."""

from __future__ import annotations

from bot.store.core import MIGRATIONS, StoreCore, migration_scripts
from bot.store.documents import DocumentsMixin
from bot.store.generations import GenerationsMixin
from bot.store.privacy import PrivacyMixin
from bot.store.records import (
    ChannelState,
    DocumentRecord,
    GenerationRecord,
    NewTurn,
    SettingChange,
    Turn,
    TurnContext,
    UsageRecord,
    UsageTotals,
    UserFootprint,
)
from bot.store.settings import SettingsMixin
from bot.store.turns import TurnsMixin
from bot.store.usage import UsageMixin

__all__ = [
    "MIGRATIONS",
    "ChannelState",
    "DocumentRecord",
    "GenerationRecord",
    "NewTurn",
    "SettingChange",
    "Store",
    "StoreCore",
    "Turn",
    "TurnContext",
    "UsageRecord",
    "UsageTotals",
    "UserFootprint",
    "migration_scripts",
]


class Store(TurnsMixin, DocumentsMixin, UsageMixin, SettingsMixin, GenerationsMixin, PrivacyMixin):
    """The bot's SQLite database: open(), typed methods, close().

    A write of several statements goes through `transaction()` and uses the connection it yields.
    """
