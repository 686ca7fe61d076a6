"""A Discord-compatible server on 127.0.0.1 (REST API v10 and the gateway) for running the real bot process.

Point a bot at it with ``DISCORD_API_BASE=server.api_base``; it serves ``GET /gateway/bot`` naming its own
websocket, so discord.py's real HTTP and gateway clients talk to it unmodified::

    with FakeDiscordGateway(token=TOKEN) as server:
        ...start the bot...
        server.wait_for(lambda: server.identifies, 30, "IDENTIFY")
        server.push_mention("hello")

The gateway speaks the real protocol: HELLO (op 10), IDENTIFY (op 2) answered by READY and one
GUILD_CREATE (a text channel, the bot and a human as members), HEARTBEAT (op 1) answered by
HEARTBEAT_ACK (op 11), JSON encoding, and ``zlib-stream`` transport compression when asked for (any
other compression gets plain text frames, which discord.py also reads). Every REST call is recorded
(without its Authorization header); messages the bot posts are kept in their latest state and echoed
back as MESSAGE_CREATE, as Discord does. Unknown routes answer 404 and are recorded too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from tests.fakes.discord_payloads import (
    Payload,
    Snowflakes,
    guild_channel_payload,
    guild_payload,
    iso,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)

API_VERSION = 10
T = TypeVar("T")

HELLO, IDENTIFY, HEARTBEAT, HEARTBEAT_ACK, DISPATCH, RESUME, INVALID_SESSION = 10, 2, 1, 11, 0, 6, 9


@dataclass
class RestCall:
    """One REST request the bot made."""

    method: str
    path: str  # below the API base, e.g. /channels/1/messages
    query: dict[str, str]
    body: Any  # JSON body, `payload_json` of a multipart body, or None
    status: int = 0
    answer: Any = None  # what the server answered (a copy, as it was then)
    at: float = field(default_factory=time.monotonic)


@dataclass
class Identify:
    """An IDENTIFY the gateway received (the token is checked, not kept)."""

    data: Payload
    query: dict[str, str]
    token_ok: bool
    at: float = field(default_factory=time.monotonic)


class FakeDiscordGateway:
    """Discord's REST API and gateway for one bot in one server with one text channel."""

    def __init__(self, *, token: str, heartbeat_interval_ms: int = 41250) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        ids = self.ids = Snowflakes()
        self.app_id = self.bot_id = ids.next()
        self.guild_id, self.channel_id, self.human_id, self.owner_id = (ids.next() for _ in range(4))
        self.bot_user = user_payload(self.bot_id, "teambot", bot=True)
        self.human = user_payload(self.human_id, "alice", global_name="Alice")
        self.owner = user_payload(self.owner_id, "owner")
        self.human_member = member_payload(self.human, [])
        self.bot_member = member_payload(self.bot_user, [])
        self._lock = threading.Lock()
        self._calls: list[RestCall] = []
        self._identifies: list[Identify] = []
        self.heartbeats = 0
        self.compression: str | None = None
        self.messages: dict[int, Payload] = {}
        self.commands: dict[str, list[Payload]] = {}
        self._sockets: list[_Session] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def _next_id(self) -> int:
        with self._lock:
            return self.ids.next()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeDiscordGateway:
        """Serve from a background thread with its own event loop."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-discord", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Discord server did not start")
        return self

    def stop(self) -> None:
        """Close every websocket, stop serving and join the thread."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeDiscordGateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _start_site(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/api/v{version}/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for session in list(self._sockets):
            await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        """The REST base URL to give the bot as DISCORD_API_BASE."""
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """The websocket URL GET /gateway/bot names."""
        return f"ws://127.0.0.1:{self.port}"

    # -- what the bot did -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[RestCall]:
        """Every REST call so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, path_prefix: str) -> list[RestCall]:
        """REST calls with this method whose path starts with `path_prefix`."""
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    @property
    def identifies(self) -> list[Identify]:
        """Every IDENTIFY so far."""
        with self._lock:
            return list(self._identifies)

    def wait_for(self, condition: Callable[[], T], timeout: float, what: str) -> T:
        """Poll until `condition()` is truthy and return it; fail naming `what` and the calls seen."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                seen = "\n".join(f"  {c.method} {c.path} -> {c.status}" for c in self.calls)
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}; REST calls:\n{seen}"
                )
            time.sleep(0.05)

    # -- driving the bot ------------------------------------------------------------------------------

    def push_mention(self, text: str) -> int:
        """Alice mentions the bot in the channel (MESSAGE_CREATE); return the message id."""
        message_id = self._next_id()
        data = message_payload(
            message_id,
            self.channel_id,
            self.human,
            content=f"<@{self.bot_id}> {text}",
            guild_id=self.guild_id,
            member=self.human_member,
            mentions=[{**self.bot_user, "member": _without_user(self.bot_member)}],
        )
        self._call_in_loop(self._broadcast("MESSAGE_CREATE", data))
        return message_id

    def _call_in_loop(self, coro: Any) -> Any:
        assert self._loop is not None, "the server is not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _broadcast(self, event: str, data: Payload) -> None:
        for session in list(self._sockets):
            if session.ready:
                await session.dispatch(event, data)

    # -- REST -----------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body: Any = None
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            form = await request.post()
            body = json.loads(str(form["payload_json"])) if "payload_json" in form else None
        call = RestCall(request.method, path, dict(request.query), body)
        with self._lock:
            self._calls.append(call)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            status, answer = 401, {"message": "401: Unauthorized", "code": 0}
        else:
            status, answer = await self._answer(request.method, path.rstrip("/").split("/")[1:], body)
        call.status, call.answer = status, json.loads(json.dumps(answer))
        if status == 204:
            return web.Response(status=204)
        # discord.py only parses JSON when the content type is exactly this (no charset).
        headers = {"Content-Type": "application/json"}
        return web.Response(status=status, body=json.dumps(answer), headers=headers)

    async def _answer(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        match method, parts:
            case "GET", ["gateway", "bot"]:
                limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
                return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
            case "GET", ["gateway"]:
                return 200, {"url": self.gateway_url}
            case "GET", ["users", "@me"]:
                return 200, self.bot_user
            case "GET", ["oauth2", "applications", "@me"]:
                return 200, self._application()
            case "PUT", ["applications", app, "commands"] if int(app) == self.app_id:
                return 200, self._sync("global", None, body)
            case "PUT", ["applications", app, "guilds", guild, "commands"] if int(app) == self.app_id:
                return 200, self._sync(f"guild:{guild}", guild, body)
            case "GET", ["applications", _, "commands"]:
                return 200, self.commands.get("global", [])
            case "POST", ["channels", _, "typing"]:
                return 204, None
            case "POST", ["channels", channel, "messages"]:
                return 200, await self._post_message(int(channel), body or {})
            case "GET", ["channels", _, "messages", message] if int(message) in self.messages:
                return 200, self.messages[int(message)]
            case "PATCH", ["channels", _, "messages", message] if int(message) in self.messages:
                stored = self.messages[int(message)]
                stored.update({k: v for k, v in (body or {}).items() if k in {"content", "embeds", "flags"}})
                stored["edited_timestamp"] = iso(self._next_id())
                return 200, stored
            case "DELETE", ["channels", _, "messages", message] if int(message) in self.messages:
                del self.messages[int(message)]
                return 204, None
        return 404, {"message": "404: Not Found", "code": 0}

    def _application(self) -> Payload:
        return {
            "id": str(self.app_id),
            "name": "teambot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner,
            "verify_key": "0" * 64,
            "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is switched on
            "bot": self.bot_user,
        }

    def _sync(self, scope: str, guild_id: str | None, body: Any) -> list[Payload]:
        synced = []
        for command in body or []:
            # Discord fills the defaults a client may leave out (menus have an empty description).
            entry = {"type": 1, "description": "", "options": [], "nsfw": False, **command}
            entry.update(id=str(self._next_id()), application_id=str(self.app_id))
            entry["version"] = entry["id"]
            if guild_id is not None:
                entry["guild_id"] = guild_id
            synced.append(entry)
        self.commands[scope] = synced
        return synced

    async def _post_message(self, channel_id: int, body: Payload) -> Payload:
        message_id = self._next_id()
        data = message_payload(
            message_id,
            channel_id,
            self.bot_user,
            content=body.get("content") or "",
            guild_id=self.guild_id if channel_id == self.channel_id else None,
            member=self.bot_member if channel_id == self.channel_id else None,
            embeds=body.get("embeds") or [],
        )
        if body.get("message_reference"):
            data["message_reference"] = body["message_reference"]
            data["type"] = 19
        self.messages[message_id] = data
        await self._broadcast("MESSAGE_CREATE", data)
        return data

    # -- gateway --------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        if query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only json encoding")
            return ws
        session = _Session(ws, zlib_stream=query.get("compress") == "zlib-stream")
        self.compression = query.get("compress")
        self._sockets.append(session)
        try:
            await session.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._on_op(session, json.loads(msg.data), query)
        finally:
            self._sockets.remove(session)
        return ws

    async def _on_op(self, session: _Session, msg: Payload, query: dict[str, str]) -> None:
        op, data = msg.get("op"), msg.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            await session.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            token_ok = data.get("token") == self.token
            kept = {k: v for k, v in data.items() if k != "token"}
            with self._lock:
                self._identifies.append(Identify(kept, query, token_ok))
            if not token_ok:
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            await self._ready(session)
        elif op == RESUME:
            await session.send({"op": INVALID_SESSION, "d": False})

    async def _ready(self, session: _Session) -> None:
        await session.dispatch(
            "READY",
            {
                "v": API_VERSION,
                "user": self.bot_user,
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": f"session-{self._next_id()}",
                "resume_gateway_url": self.gateway_url,
                "shard": [0, 1],
                "application": {"id": str(self.app_id), "flags": self._application()["flags"]},
                "private_channels": [],
                "relationships": [],
            },
        )
        everyone = role_payload(self.guild_id, "@everyone", _DEFAULT_PERMISSIONS, 0)
        channel = guild_channel_payload(self.channel_id, self.guild_id, "general")
        guild = guild_payload(
            self.guild_id,
            "Test team",
            self.owner_id,
            roles=[everyone],
            channels=[channel],
            threads=[],
            members=[self.bot_member, self.human_member],
            locale="en-US",
        )
        await session.dispatch("GUILD_CREATE", guild)
        session.ready = True


# View Channel, Send Messages, Send Messages in Threads, Embed Links, Attach Files, Read Message History.
_DEFAULT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 14) | (1 << 15) | (1 << 16)


def _without_user(member: Payload) -> Payload:
    return {k: v for k, v in member.items() if k != "user"}


class _Session:
    """One gateway connection: its sequence number and its transport compression."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.sequence = 0
        self.ready = False
        self._lock = asyncio.Lock()
        # zlib-stream: one deflate context for the whole connection, each message ending in a sync flush.
        self._deflate = zlib.compressobj() if zlib_stream else None

    async def send(self, payload: Payload) -> None:
        """Send one gateway message (compressed if the connection asked for zlib-stream)."""
        text = json.dumps(payload)
        async with self._lock:
            if self.ws.closed:
                return
            if self._deflate is None:
                await self.ws.send_str(text)
            else:
                data = self._deflate.compress(text.encode()) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: Payload) -> None:
        """Send a DISPATCH (op 0) with the next sequence number."""
        self.sequence += 1
        await self.send({"op": DISPATCH, "t": event, "s": self.sequence, "d": data})
