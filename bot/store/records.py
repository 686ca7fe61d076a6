"""The rows the store reads and writes, as frozen dataclasses, and the columns they are read from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message of a conversation."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    role: str
    content: str
    tokens: int
    created_at: float


_TURN_COLUMNS = "id, channel_id, guild_id, author_id, author_name, role, content, tokens, created_at"


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's persona and rolling summary."""

    channel_id: int
    persona: str | None = None
    summary: str = ""
    summary_upto: int = 0
    trim_noticed: bool = False
    docs_in_chat: bool | None = None


@dataclass(frozen=True, slots=True)
class NewTurn:
    """A turn to store: who said what where, and what it costs in tokens."""

    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    role: str
    content: str
    tokens: int
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What answering a just-stored turn needs: the channel's state and the turns after its summary."""

    turn_id: int
    state: ChannelState
    pending_tokens: int  # every turn after the summary
    recent: list[Turn]  # the newest of those that fit the budget, oldest first


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One indexed file and where it may be seen."""

    id: str
    shard: str
    scope: str
    scope_key: str
    guild_id: int | None
    channel_id: int | None
    name: str
    kind: str
    size: int
    sha256: str
    pages: int | None
    chunks: int
    uploader_id: int
    uploader_name: str
    status: str
    created_at: float


_DOC_COLUMNS = (
    "id, shard, scope, scope_key, guild_id, channel_id, name, kind, size, sha256, pages, chunks,"
    " uploader_id, uploader_name, status, created_at"
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one model call cost, for budgets and /usage."""

    guild_id: int | None
    user_id: int | None
    feature: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Tokens in, tokens out and images over some period."""

    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0

    @property
    def tokens(self) -> int:
        """Tokens in and out together, as budgets count them."""
        return self.tokens_in + self.tokens_out


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """One image generation, edit or variation: who, where, what and with which model."""

    id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: str
    prompt: str
    model: str
    size: str
    quality: str | None
    count: int
    created_at: float


_GENERATION_COLUMNS = (
    "id, guild_id, channel_id, user_id, kind, prompt, model, size, quality, count, created_at"
)


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One logged change of a server setting: who, what, when."""

    user_id: int
    user_name: str
    key: str
    old_value: str | None
    new_value: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class UserFootprint:
    """What the store holds about one user (or removed, after forget_user)."""

    turns: int = 0
    answers: int = 0
    summaries: int = 0
    usage_rows: int = 0
    images: int = 0
    documents: int = 0
    settings_changes: int = 0  # server setting changes logged under their name
