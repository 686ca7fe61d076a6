"""An in-memory Discord REST API (v10) behind a fake aiohttp session.

discord.py's own `HTTPClient.request` and webhook adapter run unmodified; only the aiohttp session
they hold is replaced by `FakeSession`, which answers from `FakeDiscordServer`. The server keeps
the world (users, guilds, roles, members, channels, message history, CDN files) and records what
the bot did (every call, every message in its final state, interaction answers, modals).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes.discord_payloads import Call, SentFile
from tests.fakes.discord_server_guilds import GuildHandlers
from tests.fakes.discord_server_interactions import InteractionHandlers
from tests.fakes.discord_server_transport import (
    THREAD_TYPES,
    Answer,
    FakeResponse,
    FakeSession,
    Refused,
    ServerHooks,
    _parse_body,
    _Request,
    error,
    invalid,
)

__all__ = [
    "THREAD_TYPES",
    "Answer",
    "FakeDiscordServer",
    "FakeResponse",
    "FakeSession",
    "Refused",
    "ServerHooks",
    "error",
    "invalid",
]


class FakeDiscordServer(InteractionHandlers, GuildHandlers):
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
