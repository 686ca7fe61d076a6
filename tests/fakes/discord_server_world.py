"""The fake Discord server's world state, its lookups and Discord's validation rules."""

from __future__ import annotations

import re

from tests.fakes.discord_payloads import (
    COMPONENTS_V2,
    Call,
    InteractionRecord,
    Payload,
    SentMessage,
    SentModal,
    Snowflakes,
    guild_payload,
    user_payload,
)
from tests.fakes.discord_server_transport import (
    THREAD_TYPES,
    Refused,
    ServerHooks,
    _Failure,
    _InFile,
    _snowflake,
    error,
    invalid,
)


class ServerWorld:
    """Discord's world (users, guilds, channels, history) and the record of what the bot did."""

    ROUTES: tuple[tuple[str, str, str], ...] = ()

    def __init__(
        self,
        *,
        bot_name: str = "teambot",
        attachment_size_limit: int = 10 * 1024 * 1024,
        interaction_deadline: float = 3.0,
    ) -> None:
        self.ids = Snowflakes()
        self.bot_id = self.ids.next()
        self.attachment_size_limit = attachment_size_limit
        self.interaction_deadline = interaction_deadline
        self.token: str | None = None
        self.hooks: ServerHooks | None = None
        # the world
        self.users: dict[int, Payload] = {self.bot_id: user_payload(self.bot_id, bot_name, bot=True)}
        self.guilds: dict[int, Payload] = {}
        self.roles: dict[int, dict[int, Payload]] = {}
        self.members: dict[int, dict[int, Payload]] = {}
        self.channels: dict[int, Payload] = {}
        self.messages: dict[int, dict[int, Payload]] = {}
        self.cdn: dict[str, bytes] = {}
        self.closed_dms: set[int] = set()
        # what the bot did
        self.calls: list[Call] = []
        self.unhandled: list[Call] = []
        self.sent: list[SentMessage] = []
        self.sent_by_id: dict[int, SentMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.modals: list[SentModal] = []
        self.reactions: list[tuple[int, int, str, bool]] = []
        self.commands: dict[int | None, list[Payload]] = {}
        self.command_ids: dict[tuple[int | None, str, int], int] = {}
        self.left_guilds: list[int] = []
        self._failures: list[_Failure] = []
        self._routes = [(m, re.compile(p + "$"), getattr(self, "_r_" + h)) for m, p, h in self.ROUTES]

    # ------------------------------------------------------------------ world helpers

    @property
    def bot_user(self) -> Payload:
        """The bot's user payload."""
        return self.users[self.bot_id]

    def guild_of(self, channel_id: int) -> int | None:
        """Guild id of a channel (None for DMs)."""
        return _snowflake(self.channels[channel_id].get("guild_id"))

    def member(self, guild_id: int, user_id: int) -> Payload | None:
        """Member payload (with user) or None."""
        return self.members.get(guild_id, {}).get(user_id)

    def full_guild(self, guild_id: int) -> Payload:
        """Assemble a GUILD_CREATE payload from the stores."""
        meta = self.guilds[guild_id]
        channels = [c for c in self.channels.values() if c.get("guild_id") == str(guild_id)]
        return guild_payload(
            guild_id,
            meta["name"],
            meta["owner_id"],
            roles=list(self.roles[guild_id].values()),
            channels=[c for c in channels if c["type"] not in THREAD_TYPES],
            threads=[c for c in channels if c["type"] in THREAD_TYPES],
            members=list(self.members[guild_id].values()),
            locale=meta["locale"],
        )

    def store_message(self, payload: Payload) -> None:
        """Add or replace a message in its channel's history."""
        channel_id = int(payload["channel_id"])
        self.messages.setdefault(channel_id, {})[int(payload["id"])] = payload
        self.channels[channel_id]["last_message_id"] = payload["id"]

    def find_message(self, message_id: int) -> Payload | None:
        """A stored message payload (any channel) or a bot message (incl. ephemeral)."""
        for history in self.messages.values():
            if message_id in history:
                return history[message_id]
        sent = self.sent_by_id.get(message_id)
        return None if sent is None else sent.payload

    def add_cdn(self, payload: Payload, data: bytes) -> None:
        """Serve an attachment's bytes at its url and proxy_url."""
        self.cdn[payload["url"]] = data
        self.cdn[payload["proxy_url"]] = data

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        code: int = 0,
        message: str = "Internal Server Error",
        *,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls matching method + path regex fail with this error."""
        self._failures.append(_Failure(method.upper(), re.compile(path), error(status, code, message), times))

    def _visible_content(self, payload: Payload) -> Payload:
        """Apply the message-content-intent rule to a message the bot reads."""
        if self.hooks is None or self.hooks.content_intent():
            return payload
        if payload["author"]["id"] == str(self.bot_id):
            return payload
        if self.channels.get(int(payload["channel_id"]), {}).get("type") == 1:
            return payload
        if any(m["id"] == str(self.bot_id) for m in payload.get("mentions", [])):
            return payload
        hidden = {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
        hidden.pop("message_snapshots", None)  # a forward's snapshot is content too
        hidden.pop("poll", None)
        return hidden

    # ------------------------------------------------------------------ validation

    def _require(self, channel_id: int, *names: str) -> None:
        """Refuse like Discord when the bot lacks a permission in the channel."""
        if channel_id not in self.channels:
            raise Refused(error(404, 10003, "Unknown Channel"))
        perms = self.hooks.permissions_for(channel_id, self.bot_id) if self.hooks else None
        if perms is None:
            return
        if not perms.view_channel:
            raise Refused(error(403, 50001, "Missing Access"))
        if any(not getattr(perms, name) for name in names):
            raise Refused(error(403, 50013, "Missing Permissions"))

    def _validate(self, body: Payload, files: list[_InFile]) -> None:
        """Discord's limits on a message body."""
        content = body.get("content")
        if content is not None and len(content) > 2000:
            raise invalid("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            raise invalid("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for index, embed in enumerate(embeds):
            parts = {
                "title": (embed.get("title") or "", 256),
                "description": (embed.get("description") or "", 4096),
                "footer.text": ((embed.get("footer") or {}).get("text") or "", 2048),
                "author.name": ((embed.get("author") or {}).get("name") or "", 256),
            }
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise invalid(
                    f"embeds.{index}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for f_index, fld in enumerate(fields):
                name, value = fld.get("name") or "", fld.get("value") or ""
                if not name or not value:
                    raise invalid(
                        f"embeds.{index}.fields.{f_index}", "BASE_TYPE_REQUIRED", "This field is required"
                    )
                parts[f"fields.{f_index}.name"] = (name, 256)
                parts[f"fields.{f_index}.value"] = (value, 1024)
            for key, (text, limit) in parts.items():
                total += len(text)
                if len(text) > limit:
                    raise invalid(
                        f"embeds.{index}.{key}",
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {limit} or fewer in length.",
                    )
        if total > 6000:
            raise invalid("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        flags = int(body.get("flags") or 0)
        if not flags & COMPONENTS_V2 and len(body.get("components") or []) > 5:
            raise invalid("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        mentions = body.get("allowed_mentions") or {}
        for kind in ("users", "roles"):
            if kind in mentions.get("parse", []) and mentions.get(kind):
                raise invalid(
                    "allowed_mentions",
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
        if len(files) > 10:
            raise invalid("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        if sum(len(f.data) for f in files) > self.attachment_size_limit:
            raise Refused(error(413, 40005, "Request entity too large"))

    @staticmethod
    def _require_not_empty(payload: Payload) -> None:
        keys = ("content", "embeds", "attachments", "components", "sticker_items", "poll")
        if not any(payload.get(key) for key in keys):
            raise Refused(error(400, 50006, "Cannot send an empty message"))

    def _pings(self, body: Payload, reply_author: int | None) -> tuple[set[int], set[int], bool]:
        """Who Discord would notify for this body, honouring allowed_mentions."""
        content = body.get("content") or ""
        users = {int(x) for x in re.findall(r"<@!?(\d+)>", content)}
        roles = {int(x) for x in re.findall(r"<@&(\d+)>", content)}
        everyone = "@everyone" in content or "@here" in content
        allowed = body.get("allowed_mentions")
        if allowed is None:
            parse, ok_users, ok_roles, replied = {"users", "roles", "everyone"}, set(), set(), True
        else:
            parse = set(allowed.get("parse", []))
            ok_users = {int(x) for x in allowed.get("users", [])}
            ok_roles = {int(x) for x in allowed.get("roles", [])}
            replied = bool(allowed.get("replied_user", False))
        pinged_users = {u for u in users if "users" in parse or u in ok_users}
        pinged_roles = {r for r in roles if "roles" in parse or r in ok_roles}
        if reply_author is not None and replied:
            pinged_users.add(reply_author)
        return pinged_users, pinged_roles, everyone and "everyone" in parse
