"""An in-memory Discord REST API (v10) behind a fake aiohttp session.

discord.py's own `HTTPClient.request` and webhook adapter run unmodified; only the aiohttp session
they hold is replaced by `FakeSession`, which answers from `FakeDiscordServer`. The server keeps
the world (users, guilds, roles, members, channels, message history, CDN files) and records what
the bot did (every call, every message in its final state, interaction answers, modals).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiohttp
import discord
from discord import app_commands

from tests.fakes.discord_payloads import (
    COMPONENTS_V2,
    EPHEMERAL,
    LOADING,
    Call,
    InteractionRecord,
    Payload,
    SentFile,
    SentMessage,
    SentModal,
    Snowflakes,
    attachment_payload,
    clone,
    dm_payload,
    guild_payload,
    iso,
    message_payload,
    thread_payload,
    user_payload,
)

Answer = tuple[int, Any]
THREAD_TYPES = (10, 11, 12)


class ServerHooks(Protocol):
    """What the server asks of the harness that binds it to a bot."""

    def permissions_for(self, channel_id: int, user_id: int) -> discord.Permissions | None:
        """Permissions of a user in a channel (None in DMs)."""
        ...

    def gateway(self, event: str, payload: Payload) -> None:
        """Deliver a gateway event to the bot."""
        ...

    def content_intent(self) -> bool:
        """Whether the bot has the message_content intent."""
        ...


def error(status: int, code: int, message: str, errors: Payload | None = None) -> Answer:
    """A Discord JSON error answer."""
    body: Payload = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return status, body


def _field_error(code: str, message: str) -> Payload:
    return {"_errors": [{"code": code, "message": message}]}


class Refused(Exception):
    """Raised inside a handler to answer with a Discord error."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer)
        self.answer = answer


def invalid(field: str, code: str, message: str) -> Refused:
    """A 400 Invalid Form Body refusal for one field."""
    return Refused(error(400, 50035, "Invalid Form Body", {field: _field_error(code, message)}))


@dataclass
class _InFile:
    index: int
    filename: str
    data: bytes


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, Any]
    body: Any
    files: list[_InFile]
    authorized: bool


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    answer: Answer
    times: int


class FakeResponse:
    """Just enough of aiohttp.ClientResponse for discord.py."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.reason = {200: "OK", 204: "No Content"}.get(status, "Error")
        if isinstance(body, bytes):
            self._raw = body
            self.headers: dict[str, str] = {"content-type": "application/octet-stream"}
        elif body is None:
            self._raw = b""
            self.headers = {"content-type": "text/plain"}
        else:
            self._raw = json.dumps(body).encode()
            self.headers = {"content-type": "application/json"}

    async def text(self, encoding: str = "utf-8") -> str:
        """Body as text."""
        return self._raw.decode(encoding)

    async def read(self) -> bytes:
        """Body as bytes."""
        return self._raw

    async def json(self) -> Any:
        """Body as JSON."""
        return json.loads(self._raw)

    def release(self) -> None:
        """No-op."""

    async def __aenter__(self) -> FakeResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Pending:
    def __init__(self, produce: Callable[[], Any], session: FakeSession) -> None:
        self._produce = produce
        self._session = session

    async def __aenter__(self) -> FakeResponse:
        await asyncio.sleep(0)  # a real request always yields to the loop
        started = time.thread_time()
        try:
            return await self._produce()
        finally:  # the fake's own work, which bench/load.py keeps apart from the bot's
            self._session.cpu_seconds += time.thread_time() - started

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeSession:
    """Stands in for the aiohttp.ClientSession discord.py's HTTPClient and webhooks use."""

    def __init__(self, server: FakeDiscordServer) -> None:
        self.server = server
        self.closed = False
        self.cpu_seconds = 0.0  # spent answering requests

    def request(self, method: str, url: str, **kwargs: Any) -> _Pending:
        """Answer a REST call from the fake server."""
        return _Pending(lambda: self.server.handle(method, url, **kwargs), self)

    def get(self, url: str, **kwargs: Any) -> _Pending:
        """Answer a CDN download (attachments, avatars)."""
        return _Pending(lambda: self.server.handle_cdn(url), self)

    async def ws_connect(self, url: str, **kwargs: Any) -> Any:
        """There is no gateway: events are fed by the harness."""
        raise RuntimeError("FakeDiscord has no gateway; drive the bot with FakeDiscord methods")

    async def close(self) -> None:
        """Mark closed."""
        self.closed = True


def _parse_body(data: Any) -> tuple[Any, list[_InFile]]:
    if data is None:
        return None, []
    if isinstance(data, (str, bytes)):
        return json.loads(data), []
    if isinstance(data, aiohttp.FormData):
        body: Any = None
        files: list[_InFile] = []
        # discord.py builds FormData from dicts; aiohttp keeps them as (options, headers, value).
        for options, _headers, value in data._fields:
            name = options["name"]
            if name == "payload_json":
                body = json.loads(value)
            elif name.startswith("files["):
                raw = value.read() if hasattr(value, "read") else bytes(value)
                files.append(_InFile(int(name[6:-1]), options.get("filename", name), raw))
        return body, files
    raise TypeError(f"unexpected request body {type(data)!r}")


def _snowflake(value: Any) -> int | None:
    return None if value is None else int(value)


class FakeDiscordServer:
    """Discord's side: the world and a REST API over it."""

    ROUTES: tuple[tuple[str, str, str], ...] = (
        ("GET", r"/users/@me", "get_me"),
        ("GET", r"/oauth2/applications/@me", "get_application"),
        ("POST", r"/users/@me/channels", "create_dm"),
        ("DELETE", r"/users/@me/guilds/(?P<guild_id>\d+)", "leave_guild"),
        ("GET", r"/users/(?P<user_id>\d+)", "get_user"),
        ("GET", r"/guilds/(?P<guild_id>\d+)", "get_guild"),
        ("GET", r"/guilds/(?P<guild_id>\d+)/channels", "get_guild_channels"),
        ("GET", r"/guilds/(?P<guild_id>\d+)/roles", "get_roles"),
        ("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", "get_member"),
        ("GET", r"/channels/(?P<channel_id>\d+)", "get_channel"),
        ("POST", r"/channels/(?P<channel_id>\d+)/typing", "typing"),
        ("GET", r"/channels/(?P<channel_id>\d+)/messages", "history"),
        ("POST", r"/channels/(?P<channel_id>\d+)/messages", "create_message"),
        ("POST", r"/channels/(?P<channel_id>\d+)/messages/bulk-delete", "bulk_delete"),
        ("GET", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "get_message"),
        ("PATCH", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "edit_message"),
        ("DELETE", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "delete_message"),
        (
            "PUT",
            r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/reactions/(?P<emoji>[^/]+)/@me",
            "react",
        ),
        (
            "DELETE",
            r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/reactions/(?P<emoji>[^/]+)/@me",
            "unreact",
        ),
        ("POST", r"/channels/(?P<channel_id>\d+)/threads", "create_thread"),
        ("POST", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/threads", "create_thread"),
        ("PUT", r"/applications/(?P<app_id>\d+)/commands", "put_commands"),
        ("GET", r"/applications/(?P<app_id>\d+)/commands", "get_commands"),
        ("PUT", r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands", "put_commands"),
        ("GET", r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands", "get_commands"),
        ("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback", "interaction_callback"),
        (
            "GET",
            r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
            "wh_get",
        ),
        (
            "PATCH",
            r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
            "wh_edit",
        ),
        (
            "DELETE",
            r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<message_id>@original|\d+)",
            "wh_delete",
        ),
        ("POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", "wh_followup"),
    )

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
        hidden.pop("poll", None)
        return hidden

    # ------------------------------------------------------------------ transport

    async def handle(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> FakeResponse:
        """Route one REST request."""
        parts = urlsplit(url)
        if parts.hostname != "discord.com":
            raise RuntimeError(f"FakeDiscord refuses a request to {url}")
        path = re.sub(r"^/api/v\d+", "", parts.path)
        body, files = _parse_body(data)
        auth = (headers or {}).get("Authorization")
        req = _Request(method, path, dict(params or {}), body, files, auth == f"Bot {self.token}")
        call = Call(method, path, req.params, body, [SentFile(f.filename, f.data) for f in files])
        self.calls.append(call)
        status, answer = self._dispatch(req, call)
        call.status, call.response = status, answer
        return FakeResponse(method, url, status, answer)

    def _dispatch(self, req: _Request, call: Call) -> Answer:
        for failure in self._failures:
            if failure.times > 0 and failure.method == req.method and failure.pattern.search(req.path):
                failure.times -= 1
                return failure.answer
        for method, pattern, handler in self._routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                webhook = req.path.startswith(("/webhooks/", "/interactions/"))
                if not webhook and not req.authorized:
                    return error(401, 0, "401: Unauthorized")
                try:
                    return handler(
                        req, **{k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    )
                except Refused as refused:
                    return refused.answer
        self.unhandled.append(call)
        return error(404, 0, f"FakeDiscord has no route for {req.method} {req.path}")

    async def handle_cdn(self, url: str) -> FakeResponse:
        """Serve registered attachment bytes."""
        key = url.split("?", 1)[0]
        self.calls.append(Call("GET", key, {}, None, []))
        if key in self.cdn:
            return FakeResponse("GET", url, 200, self.cdn[key])
        return FakeResponse("GET", url, 404, {"message": "404: Not Found", "code": 0})

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

    # ------------------------------------------------------------------ bot messages

    def _attachments(
        self,
        channel_id: int,
        entries: list[Payload] | None,
        files: list[_InFile],
        *,
        ephemeral: bool,
        existing: list[SentFile] | None = None,
    ) -> tuple[list[Payload], list[SentFile]]:
        """Resolve an `attachments` array: kept ids from `existing`, new ones by upload index."""
        by_index = {f.index: f for f in files}
        kept = {str(sf.id): sf for sf in existing or []}
        if entries is None:
            entries = [{"id": f.index, "filename": f.filename} for f in files]
        payloads: list[Payload] = []
        sent_files: list[SentFile] = []
        for entry in entries:
            key = str(entry.get("id"))
            if key in kept:
                old = kept[key]
                payloads.append(
                    attachment_payload(
                        old.id,
                        channel_id,
                        old.filename,
                        old.data,
                        content_type=old.content_type,
                        description=old.description,
                        ephemeral=ephemeral,
                    )
                )
                sent_files.append(old)
                continue
            upload = by_index.get(int(key)) if key.isdigit() else None
            if upload is None:
                raise invalid("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment {key}")
            attachment_id = self.ids.next()
            filename = entry.get("filename") or upload.filename
            att = attachment_payload(
                attachment_id,
                channel_id,
                filename,
                upload.data,
                description=entry.get("description"),
                ephemeral=ephemeral,
            )
            self.add_cdn(att, upload.data)
            payloads.append(att)
            sent_files.append(
                SentFile(
                    filename,
                    upload.data,
                    attachment_id,
                    att["content_type"],
                    entry.get("description"),
                    att["url"],
                )
            )
        return payloads, sent_files

    def create_bot_message(
        self,
        channel_id: int,
        body: Payload,
        files: list[_InFile],
        *,
        interaction: InteractionRecord | None = None,
        ephemeral: bool = False,
        kind: int = 0,
        loading: bool = False,
    ) -> SentMessage:
        """Create a message authored by the bot (raises Refused like Discord would)."""
        if not loading:
            self._validate(body, files)
        attachments, sent_files = self._attachments(
            channel_id, body.get("attachments"), files, ephemeral=ephemeral
        )
        reference = body.get("message_reference")
        referenced: Payload | None = None
        if reference:
            referenced = self.find_message(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise invalid("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        flags = int(body.get("flags") or 0) & ~(EPHEMERAL | LOADING)
        flags |= (EPHEMERAL if ephemeral else 0) | (LOADING if loading else 0)
        message_id = self.ids.next()
        reply_author = int(referenced["author"]["id"]) if referenced else None
        users, roles, everyone = self._pings(body, reply_author) if not loading else (set(), set(), False)
        payload = message_payload(
            message_id,
            channel_id,
            self.bot_user,
            content=body.get("content") or "",
            mentions=[self.users[u] for u in sorted(users) if u in self.users],
            mention_roles=sorted(roles),
            mention_everyone=everyone,
            attachments=attachments,
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            type=19 if referenced else kind,
            flags=flags,
            tts=bool(body.get("tts", False)),
        )
        if referenced is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
            }
            if referenced.get("guild_id"):
                payload["message_reference"]["guild_id"] = referenced["guild_id"]
            payload["referenced_message"] = {k: v for k, v in referenced.items() if k != "referenced_message"}
        if interaction is not None:
            payload["webhook_id"] = str(self.bot_id)
            payload["application_id"] = str(self.bot_id)
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": {},
            }
        if not loading:
            self._require_not_empty(payload)
        sent = SentMessage(
            id=message_id,
            channel_id=channel_id,
            payload=payload,
            files=sent_files,
            allowed_mentions=body.get("allowed_mentions"),
            ephemeral=ephemeral,
            interaction_id=None if interaction is None else interaction.id,
            loading=loading,
            contents=[] if loading else [payload["content"]],
            pinged_users=users,
            pinged_roles=roles,
            pinged_everyone=everyone,
        )
        self.sent.append(sent)
        self.sent_by_id[message_id] = sent
        if not ephemeral:
            self.store_message(payload)
            self._echo("MESSAGE_CREATE", payload)
        return sent

    def edit_bot_message(self, sent: SentMessage, body: Payload, files: list[_InFile]) -> Payload:
        """Apply an edit to a bot message and return the new payload."""
        if sent.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        self._validate(body, files)
        new = clone(sent.payload)
        if "content" in body:
            new["content"] = body["content"] or ""
        for key in ("embeds", "components"):
            if key in body:
                new[key] = body[key] or []
        new_files = sent.files
        if "attachments" in body or files:
            new["attachments"], new_files = self._attachments(
                sent.channel_id, body.get("attachments"), files, ephemeral=sent.ephemeral, existing=sent.files
            )
        if body.get("flags") is not None:
            keep = int(new.get("flags", 0)) & (EPHEMERAL | LOADING)
            new["flags"] = keep | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
        if sent.loading:
            new["flags"] = int(new.get("flags", 0)) & ~LOADING
        else:
            new["edited_timestamp"] = iso()
        self._require_not_empty(new)
        sent.payload, sent.files, sent.loading = new, new_files, False
        sent.contents.append(new["content"])
        sent.edits.append(body)
        if "allowed_mentions" in body:
            sent.allowed_mentions = body["allowed_mentions"]
        if not sent.ephemeral:
            self.store_message(new)
            self._echo("MESSAGE_UPDATE", new)
        return clone(new)

    def delete_bot_message(self, sent: SentMessage) -> None:
        """Delete a bot message."""
        if sent.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        sent.deleted = True
        self._delete_stored(sent.channel_id, sent.id)

    def _delete_stored(self, channel_id: int, message_id: int) -> None:
        if self.messages.get(channel_id, {}).pop(message_id, None) is not None:
            event: Payload = {"id": str(message_id), "channel_id": str(channel_id)}
            guild_id = self.guild_of(channel_id)
            if guild_id is not None:
                event["guild_id"] = str(guild_id)
            self._echo("MESSAGE_DELETE", event)

    def _echo(self, event: str, payload: Payload) -> None:
        """Send the gateway event Discord would send for a change the bot made."""
        if self.hooks is None:
            return
        data = clone(payload)
        channel_id = int(data.get("channel_id", 0))
        guild_id = self.guild_of(channel_id) if channel_id in self.channels else None
        if guild_id is not None and event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            data["guild_id"] = str(guild_id)
            author = self.member(guild_id, int(data["author"]["id"]))
            if author is not None:
                data["member"] = {k: v for k, v in author.items() if k != "user"}
        self.hooks.gateway(event, data)

    # ------------------------------------------------------------------ REST: users, guilds, channels

    def _r_get_me(self, req: _Request) -> Answer:
        return 200, clone(self.bot_user)

    def _r_get_application(self, req: _Request) -> Answer:
        return 200, {
            "id": str(self.bot_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.bot_user,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": self.bot_user,
        }

    def _guild(self, guild_id: str) -> int:
        if int(guild_id) not in self.guilds or int(guild_id) in self.left_guilds:
            raise Refused(error(404, 10004, "Unknown Guild"))
        return int(guild_id)

    def _r_get_user(self, req: _Request, user_id: str) -> Answer:
        user = self.users.get(int(user_id))
        return (200, clone(user)) if user else error(404, 10013, "Unknown User")

    def _r_create_dm(self, req: _Request) -> Answer:
        user_id = int(req.body["recipient_id"])
        if user_id not in self.users:
            return error(404, 10013, "Unknown User")
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == str(user_id):
                return 200, clone(channel)
        channel = dm_payload(self.ids.next(), self.users[user_id])
        self.channels[int(channel["id"])] = channel
        return 200, clone(channel)

    def _r_leave_guild(self, req: _Request, guild_id: str) -> Answer:
        gid = self._guild(guild_id)
        self.left_guilds.append(gid)
        self.members[gid].pop(self.bot_id, None)
        self._echo("GUILD_DELETE", {"id": guild_id})
        return 204, None

    def _r_get_guild(self, req: _Request, guild_id: str) -> Answer:
        full = self.full_guild(self._guild(guild_id))
        for key in ("channels", "threads", "members", "voice_states", "presences"):
            full.pop(key, None)
        return 200, full

    def _r_get_guild_channels(self, req: _Request, guild_id: str) -> Answer:
        self._guild(guild_id)
        return 200, [
            clone(c)
            for c in self.channels.values()
            if c.get("guild_id") == guild_id and c["type"] not in THREAD_TYPES
        ]

    def _r_get_roles(self, req: _Request, guild_id: str) -> Answer:
        return 200, clone(list(self.roles[self._guild(guild_id)].values()))

    def _r_get_member(self, req: _Request, guild_id: str, user_id: str) -> Answer:
        member = self.member(self._guild(guild_id), int(user_id))
        return (200, clone(member)) if member else error(404, 10007, "Unknown Member")

    def _r_get_channel(self, req: _Request, channel_id: str) -> Answer:
        channel = self.channels.get(int(channel_id))
        return (200, clone(channel)) if channel else error(404, 10003, "Unknown Channel")

    def _r_typing(self, req: _Request, channel_id: str) -> Answer:
        self._require(int(channel_id), "send_messages")
        return 204, None

    def _r_create_thread(self, req: _Request, channel_id: str, message_id: str | None = None) -> Answer:
        cid = int(channel_id)
        private = req.body.get("type") == 12
        self._require(cid, "create_private_threads" if private else "create_public_threads")
        guild_id = self.guild_of(cid)
        if guild_id is None:
            raise Refused(error(400, 50024, "Cannot execute action on this channel type"))
        thread_id = int(message_id) if message_id else self.ids.next()
        data = thread_payload(thread_id, guild_id, cid, self.bot_id, req.body["name"], private=private)
        self.channels[thread_id] = data
        if self.hooks is not None:
            self.hooks.gateway("THREAD_CREATE", {**clone(data), "newly_created": True})
        return 201, clone(data)

    # ------------------------------------------------------------------ REST: messages

    def _r_history(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        self._require(cid, "read_message_history")
        ordered = sorted(self.messages.get(cid, {}).values(), key=lambda m: int(m["id"]))
        limit = int(req.params.get("limit", 50))
        if "before" in req.params:
            chosen = [m for m in ordered if int(m["id"]) < int(req.params["before"])][-limit:]
        elif "after" in req.params:
            chosen = [m for m in ordered if int(m["id"]) > int(req.params["after"])][:limit]
        elif "around" in req.params:
            around = int(req.params["around"])
            older = [m for m in ordered if int(m["id"]) < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in ordered if int(m["id"]) >= around]
            chosen = older + newer[: limit - len(older)]
        else:
            chosen = ordered[-limit:]
        return 200, [clone(self._visible_content(m)) for m in reversed(chosen)]

    def _r_get_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        self._require(int(channel_id), "read_message_history")
        found = self.messages.get(int(channel_id), {}).get(int(message_id))
        if found is None:
            return error(404, 10008, "Unknown Message")
        return 200, clone(self._visible_content(found))

    def _r_create_message(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        body = req.body or {}
        needed = ["send_messages"] + (["attach_files"] if req.files else [])
        if body.get("message_reference"):
            needed.append("read_message_history")
        self._require(cid, *needed)
        channel = self.channels[cid]
        if channel["type"] == 1 and int(channel["recipients"][0]["id"]) in self.closed_dms:
            return error(403, 50007, "Cannot send messages to this user")
        return 200, clone(self.create_bot_message(cid, body, req.files).payload)

    def _r_edit_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        sent = self.sent_by_id.get(int(message_id))
        if (
            sent is None
            or sent.channel_id != int(channel_id)
            or (sent.interaction_id is not None and sent.ephemeral)
        ):
            if self.messages.get(int(channel_id), {}).get(int(message_id)):
                return error(403, 50005, "Cannot edit a message authored by another user")
            return error(404, 10008, "Unknown Message")
        return 200, self.edit_bot_message(sent, req.body or {}, req.files)

    def _r_delete_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        cid, mid = int(channel_id), int(message_id)
        sent = self.sent_by_id.get(mid)
        if sent is not None and sent.channel_id == cid and not sent.ephemeral:
            self.delete_bot_message(sent)
            return 204, None
        if mid not in self.messages.get(cid, {}):
            return error(404, 10008, "Unknown Message")
        self._require(cid, "manage_messages")
        self._delete_stored(cid, mid)
        return 204, None

    def _r_bulk_delete(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        self._require(cid, "manage_messages")
        for mid in map(int, req.body["messages"]):
            sent = self.sent_by_id.get(mid)
            if sent is not None:
                sent.deleted = True
            self._delete_stored(cid, mid)
        return 204, None

    def _r_react(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> Answer:
        self._require(int(channel_id), "add_reactions", "read_message_history")
        if self.find_message(int(message_id)) is None:
            return error(404, 10008, "Unknown Message")
        self.reactions.append((int(channel_id), int(message_id), emoji, True))
        return 204, None

    def _r_unreact(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> Answer:
        self.reactions.append((int(channel_id), int(message_id), emoji, False))
        return 204, None

    # ------------------------------------------------------------------ REST: application commands

    def command_id(self, guild_id: int | None, name: str, kind: int) -> int:
        """Stable id Discord gives a command."""
        key = (guild_id, name, kind)
        if key not in self.command_ids:
            self.command_ids[key] = self.ids.next()
        return self.command_ids[key]

    def _r_put_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> Answer:
        gid = None if guild_id is None else int(guild_id)
        out = []
        for cmd in req.body:
            kind = cmd.get("type", 1)
            cid = self.command_id(gid, cmd["name"], kind)
            perms = cmd.get("default_member_permissions")
            entry = {
                "description": "",
                **cmd,
                "id": str(cid),
                "application_id": app_id,
                "version": str(cid),
                "type": kind,
                "default_member_permissions": None if perms is None else str(perms),
            }
            if gid is not None:
                entry["guild_id"] = guild_id
            out.append(entry)
        self.commands[gid] = out
        return 200, clone(out)

    def _r_get_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> Answer:
        return 200, clone(self.commands.get(None if guild_id is None else int(guild_id), []))

    # ------------------------------------------------------------------ REST: interactions

    def _interaction(self, token: str) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    def _r_interaction_callback(self, req: _Request, interaction_id: str, token: str) -> Answer:
        rec = self.interactions.get(int(interaction_id))
        if rec is None or rec.token != token or time.monotonic() - rec.created_at > self.interaction_deadline:
            return error(404, 10062, "Unknown interaction")
        if rec.response_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = req.body or {}
        kind, data = int(body["type"]), body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        resource: Payload = {"type": kind}
        if kind in (4, 5):
            app_kind = 0
            if rec.type == 2:
                app_kind = 20 if rec.payload["data"].get("type", 1) == 1 else 23
            made = self.create_bot_message(
                rec.channel_id,
                data,
                req.files,
                interaction=rec,
                ephemeral=ephemeral,
                kind=app_kind,
                loading=kind == 5,
            )
            rec.original = made
            resource["message"] = clone(made.payload)
        elif kind in (6, 7):
            if rec.component_message_id is None:
                return error(400, 40004, "Interaction type does not support this response")
            target = self.sent_by_id.get(rec.component_message_id)
            if kind == 7 and target is not None:
                resource["message"] = self.edit_bot_message(target, data, req.files)
            rec.original = target
            ephemeral = bool(target and target.ephemeral)
        elif kind == 8:
            choices = data.get("choices", [])
            if (
                len(choices) > 25
                or any(not 1 <= len(c["name"]) <= 100 for c in choices)
                or any(isinstance(c["value"], str) and len(c["value"]) > 100 for c in choices)
            ):
                raise invalid("data.choices", "BASE_TYPE_MAX_LENGTH", "At most 25 choices, names 1-100 chars")
            rec.choices = [app_commands.Choice(name=c["name"], value=c["value"]) for c in choices]
        elif kind == 9:
            if len(data.get("title", "")) > 45 or not 1 <= len(data.get("components", [])) <= 5:
                raise invalid(
                    "data", "BASE_TYPE_BAD_LENGTH", "Modal title over 45 chars or not 1-5 components"
                )
            rec.modal = SentModal(data["custom_id"], data.get("title", ""), data["components"], rec)
            self.modals.append(rec.modal)
        else:
            raise invalid("type", "BASE_TYPE_CHOICES", f"Unsupported interaction callback type {kind}")
        rec.response_type, rec.response, rec.ephemeral = kind, data, ephemeral
        meta: Payload = {
            "id": str(rec.id),
            "type": rec.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": ephemeral,
        }
        if rec.original is not None:
            meta["response_message_id"] = str(rec.original.id)
        return 200, {"interaction": meta, "resource": resource}

    def _webhook_target(
        self, app_id: str, token: str, message_id: str
    ) -> tuple[InteractionRecord, SentMessage]:
        rec = self._interaction(token)
        if rec is None or int(app_id) != self.bot_id:
            raise Refused(error(404, 10015, "Unknown Webhook"))
        if message_id == "@original":
            target = rec.original
        else:
            target = next((m for m in rec.messages if m.id == int(message_id)), None)
        if target is None or target.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        return rec, target

    def _r_wh_get(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        return 200, clone(target.payload)

    def _r_wh_edit(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        return 200, self.edit_bot_message(target, req.body or {}, req.files)

    def _r_wh_delete(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        self.delete_bot_message(target)
        return 204, None

    def _r_wh_followup(self, req: _Request, app_id: str, token: str) -> Answer:
        rec = self._interaction(token)
        if rec is None or int(app_id) != self.bot_id or rec.response_type is None:
            return error(404, 10015, "Unknown Webhook")
        body = req.body or {}
        if rec.original is not None and rec.original.loading:
            # After a "thinking" defer, the first followup fills the loading message (keeping its visibility).
            return 200, self.edit_bot_message(rec.original, body, req.files)
        ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
        made = self.create_bot_message(rec.channel_id, body, req.files, interaction=rec, ephemeral=ephemeral)
        rec.followups.append(made)
        return 200, clone(made.payload)
