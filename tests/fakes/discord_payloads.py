"""Discord API payloads and the records the fake Discord keeps of what a bot did.

Everything here is plain data: JSON-shaped dicts as Discord sends them (API v10) and small
dataclasses describing messages, files, modals and interactions a bot produced. The payload
builders live in `tests.fakes.discord_payload_builders` and are re-exported from here.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from tests.fakes.discord_payload_builders import (  # noqa: F401 - re-exported
    CDN,
    MEDIA,
    Payload,
    _image_size,
    attachment_payload,
    dm_payload,
    guess_content_type,
    guild_channel_payload,
    guild_payload,
    iso,
    member_payload,
    message_payload,
    overwrite_payload,
    role_payload,
    thread_payload,
    user_payload,
)

EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15


class Snowflakes:
    """Monotonic, time-based snowflake ids (so `created_at` of everything is 'now')."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """Return a fresh snowflake."""
        now = discord.utils.time_snowflake(datetime.now(UTC))
        self._last = max(self._last + 1, now)
        return self._last


def clone(payload: Any) -> Any:
    """A deep copy of payload data: a pickle round trip is several times faster than copy.deepcopy, and
    bench/load.py runs every message through this fake in the bot's own process."""
    return pickle.loads(pickle.dumps(payload, pickle.HIGHEST_PROTOCOL))


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Upload:
    """A file a user attaches to a message or passes to an attachment option."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @classmethod
    def coerce(cls, value: Upload | tuple[Any, ...]) -> Upload:
        """Accept an Upload or a `(filename, bytes[, content_type])` tuple."""
        if isinstance(value, Upload):
            return value
        if isinstance(value, tuple) and len(value) in (2, 3):
            return cls(*value)
        raise TypeError(f"expected Upload or (filename, bytes[, content_type]), got {value!r}")


# --------------------------------------------------------------------------- records


@dataclass
class SentFile:
    """A file the bot uploaded: its name, bytes and the attachment id Discord gave it."""

    filename: str
    data: bytes
    id: int = 0
    content_type: str | None = None
    description: str | None = None
    url: str = ""

    @property
    def text(self) -> str:
        """The bytes decoded as UTF-8."""
        return self.data.decode("utf-8")


@dataclass
class SentMessage:
    """A message the bot posted (channel send, interaction response or followup), in its latest state."""

    id: int
    channel_id: int
    payload: Payload
    files: list[SentFile] = field(default_factory=list)
    allowed_mentions: Payload | None = None
    ephemeral: bool = False
    interaction_id: int | None = None
    deleted: bool = False
    loading: bool = False
    contents: list[str] = field(default_factory=list)
    edits: list[Payload] = field(default_factory=list)
    pinged_users: set[int] = field(default_factory=set)
    pinged_roles: set[int] = field(default_factory=set)
    pinged_everyone: bool = False

    @property
    def content(self) -> str:
        """Current text content."""
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[discord.Embed]:
        """Current embeds as discord.Embed objects."""
        return [discord.Embed.from_dict(e) for e in self.payload.get("embeds", [])]

    @property
    def raw_embeds(self) -> list[Payload]:
        """Current embeds as sent (dicts)."""
        return list(self.payload.get("embeds", []))

    @property
    def components(self) -> list[Payload]:
        """Current component payloads (action rows etc.)."""
        return list(self.payload.get("components", []))

    @property
    def buttons(self) -> list[Payload]:
        """Every interactive component (buttons and selects), flattened."""
        return [c for c in walk_components(self.components) if c.get("type") in INTERACTIVE_TYPES]

    @property
    def reference(self) -> Payload | None:
        """The message_reference the bot set (a reply), if any."""
        return self.payload.get("message_reference")

    @property
    def flags(self) -> int:
        """Message flags."""
        return int(self.payload.get("flags", 0))

    @property
    def pings_anyone(self) -> bool:
        """True if Discord would have notified any user or role when this was created."""
        return bool(self.pinged_users or self.pinged_roles or self.pinged_everyone)


@dataclass
class SentModal:
    """A modal the bot opened in answer to an interaction."""

    custom_id: str
    title: str
    components: list[Payload]
    interaction: InteractionRecord

    @property
    def fields(self) -> dict[str, Payload]:
        """Input components by label (or custom_id when unlabeled)."""
        return {key: comp for key, comp in modal_inputs(self.components)}


@dataclass
class Call:
    """One HTTP request the bot made to the fake Discord."""

    method: str
    path: str
    params: Mapping[str, Any]
    json: Any
    files: list[SentFile]
    status: int = 0
    response: Any = None


@dataclass
class InteractionRecord:
    """An interaction the harness delivered and everything the bot answered to it."""

    id: int
    token: str
    type: int
    payload: Payload
    user_id: int
    channel_id: int
    guild_id: int | None
    created_at: float
    interaction: discord.Interaction | None = None
    component_message_id: int | None = None
    response_type: int | None = None
    response: Payload | None = None
    ephemeral: bool = False
    original: SentMessage | None = None
    followups: list[SentMessage] = field(default_factory=list)
    choices: list[app_commands.Choice[Any]] | None = None
    modal: SentModal | None = None

    @property
    def deferred(self) -> bool:
        """True if the first answer was a defer (type 5 or 6)."""
        return self.response_type in (5, 6)

    @property
    def messages(self) -> list[SentMessage]:
        """The original response (if a message) followed by followups."""
        first = [self.original] if self.original is not None else []
        return first + self.followups

    @property
    def last(self) -> SentMessage:
        """The last message produced (followup, else original)."""
        messages = self.messages
        if not messages:
            raise AssertionError(
                f"interaction {self.id} produced no message (response type {self.response_type})"
            )
        return messages[-1]


INTERACTIVE_TYPES = frozenset({2, 3, 5, 6, 7, 8})


def walk_components(components: Sequence[Payload]) -> Iterator[Payload]:
    """Yield every component, depth first (rows, containers, sections, accessories)."""
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components", []))
        if isinstance(comp.get("accessory"), dict):
            yield from walk_components([comp["accessory"]])
        if isinstance(comp.get("component"), dict):
            yield from walk_components([comp["component"]])


def modal_inputs(components: Sequence[Payload]) -> Iterator[tuple[str, Payload]]:
    """Yield (label or custom_id, input component) for every input of a modal."""
    for comp in components:
        kind = comp.get("type")
        if kind == 1:
            for inner in comp.get("components", []):
                yield inner.get("label") or inner["custom_id"], inner
        elif kind == 18:
            inner = comp["component"]
            yield comp.get("label") or inner.get("label") or inner["custom_id"], inner
        elif "custom_id" in comp:
            yield comp.get("label") or comp["custom_id"], comp
