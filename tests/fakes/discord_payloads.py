"""Discord API payloads and the records the fake Discord keeps of what a bot did.

Everything here is plain data: JSON-shaped dicts as Discord sends them (API v10) and small
dataclasses describing messages, files, modals and interactions a bot produced.
"""

from __future__ import annotations

import io
import mimetypes
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

Payload = dict[str, Any]

EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMPONENTS_V2 = 1 << 15
CDN = "https://cdn.discordapp.com"
MEDIA = "https://media.discordapp.net"


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


def iso(snowflake: int | None = None) -> str:
    """ISO-8601 timestamp of a snowflake (or of now)."""
    when = datetime.now(UTC) if snowflake is None else discord.utils.snowflake_time(snowflake)
    return when.isoformat()


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


# --------------------------------------------------------------------------- builders


def user_payload(user_id: int, name: str, *, global_name: str | None = None, bot: bool = False) -> Payload:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "bot": bot,
        "system": False,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "avatar_decoration_data": None,
    }


def member_payload(user: Payload, roles: Sequence[int], *, nick: str | None = None) -> Payload:
    """A guild member object (with its user)."""
    return {
        "user": user,
        "roles": [str(r) for r in roles],
        "nick": nick,
        "avatar": None,
        "banner": None,
        "joined_at": iso(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def role_payload(
    role_id: int, name: str, permissions: int, position: int, *, bot_id: int | None = None
) -> Payload:
    """A role object; a bot's managed role carries `tags.bot_id`."""
    data: Payload = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        data["tags"] = {"bot_id": str(bot_id)}
    return data


def guild_payload(
    guild_id: int,
    name: str,
    owner_id: int,
    *,
    roles: Sequence[Payload],
    channels: Sequence[Payload],
    threads: Sequence[Payload],
    members: Sequence[Payload],
    locale: str,
) -> Payload:
    """A GUILD_CREATE payload."""
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": locale,
        "features": [],
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "application_id": None,
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "joined_at": iso(),
        "emojis": [],
        "stickers": [],
        "roles": list(roles),
        "channels": list(channels),
        "threads": list(threads),
        "members": list(members),
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def overwrite_payload(target_id: int, is_role: bool, overwrite: discord.PermissionOverwrite) -> Payload:
    """A permission overwrite entry."""
    allow, deny = overwrite.pair()
    return {
        "id": str(target_id),
        "type": 0 if is_role else 1,
        "allow": str(allow.value),
        "deny": str(deny.value),
    }


def guild_channel_payload(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    type: int = 0,
    position: int = 0,
    overwrites: Sequence[Payload] = (),
    topic: str | None = None,
    parent_id: int | None = None,
) -> Payload:
    """A guild text (0) or category (4) channel."""
    data: Payload = {
        "id": str(channel_id),
        "type": type,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": list(overwrites),
        "nsfw": False,
        "parent_id": None if parent_id is None else str(parent_id),
        "flags": 0,
    }
    if type == 0:
        data.update(
            topic=topic, last_message_id=None, rate_limit_per_user=0, default_auto_archive_duration=1440
        )
    return data


def thread_payload(
    thread_id: int, guild_id: int, parent_id: int, owner_id: int, name: str, *, private: bool = False
) -> Payload:
    """A public (11) or private (12) thread."""
    return {
        "id": str(thread_id),
        "type": 12 if private else 11,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": iso(thread_id),
            "locked": False,
            "invitable": not private,
            "create_timestamp": iso(thread_id),
        },
    }


def dm_payload(channel_id: int, recipient: Payload) -> Payload:
    """A DM channel with one recipient."""
    return {"id": str(channel_id), "type": 1, "recipients": [recipient], "last_message_id": None, "flags": 0}


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a project dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


def guess_content_type(filename: str) -> str:
    """Content type Discord would report for a filename."""
    guessed, _ = mimetypes.guess_type(filename)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def attachment_payload(
    attachment_id: int,
    channel_id: int,
    filename: str,
    data: bytes,
    *,
    content_type: str | None = None,
    description: str | None = None,
    ephemeral: bool = False,
) -> Payload:
    """An attachment object whose url is served by the fake CDN."""
    path = f"attachments/{channel_id}/{attachment_id}/{filename}"
    payload: Payload = {
        "id": str(attachment_id),
        "filename": filename,
        "size": len(data),
        "url": f"{CDN}/{path}",
        "proxy_url": f"{MEDIA}/{path}",
        "content_type": content_type or guess_content_type(filename),
        "flags": 0,
    }
    if description is not None:
        payload["description"] = description
    if ephemeral:
        payload["ephemeral"] = True
    if payload["content_type"].startswith("image/"):
        size = _image_size(data)
        if size is not None:
            payload["width"], payload["height"] = size
    return payload


def message_payload(
    message_id: int,
    channel_id: int,
    author: Payload,
    *,
    content: str = "",
    guild_id: int | None = None,
    member: Payload | None = None,
    mentions: Sequence[Payload] = (),
    mention_roles: Sequence[int] = (),
    mention_everyone: bool = False,
    attachments: Sequence[Payload] = (),
    embeds: Sequence[Payload] = (),
    components: Sequence[Payload] = (),
    type: int = 0,
    flags: int = 0,
    tts: bool = False,
) -> Payload:
    """A message object (MESSAGE_CREATE adds guild_id and member)."""
    data: Payload = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": iso(message_id),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": mention_everyone,
        "mentions": list(mentions),
        "mention_roles": [str(r) for r in mention_roles],
        "mention_channels": [],
        "attachments": list(attachments),
        "embeds": list(embeds),
        "components": list(components),
        "reactions": [],
        "pinned": False,
        "type": type,
        "flags": flags,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if member is not None:
        data["member"] = {k: v for k, v in member.items() if k != "user"}
    return data
