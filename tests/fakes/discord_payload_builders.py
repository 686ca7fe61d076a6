"""Builders for Discord API payloads: JSON-shaped dicts as Discord sends them (API v10).

Users, members, roles, guilds, channels, threads, DMs, attachments and messages. Re-exported by
`tests.fakes.discord_payloads`, which also holds the records the fake Discord keeps.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import discord

Payload = dict[str, Any]

CDN = "https://cdn.discordapp.com"
MEDIA = "https://media.discordapp.net"


def iso(snowflake: int | None = None) -> str:
    """ISO-8601 timestamp of a snowflake (or of now)."""
    when = datetime.now(UTC) if snowflake is None else discord.utils.snowflake_time(snowflake)
    return when.isoformat()


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
