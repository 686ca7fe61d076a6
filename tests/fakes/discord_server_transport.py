"""Session and response plumbing for the fake Discord REST API.

`FakeSession` stands in for the aiohttp session discord.py holds; it hands requests to
`FakeDiscordServer.handle` and answers with `FakeResponse`. Also the error helpers handlers use.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import discord

from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscordServer

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
