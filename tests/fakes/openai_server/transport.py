"""The handler base: HTTP plumbing, JSON and SSE writing, and checks shared by the endpoints."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from .errors import _ApiError, _missing, _model_not_found
from .recorded import RecordedRequest

if TYPE_CHECKING:
    from .server import FakeOpenAI, _Server

log = logging.getLogger(__package__)  # the logger name of the former single module


class _HandlerBase(BaseHTTPRequestHandler):
    """HTTP plumbing and shared checks for the endpoint mixins."""

    protocol_version = "HTTP/1.1"
    # Streams are many small writes: with Nagle's algorithm each waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server
    _headers_sent = False

    # -- plumbing ---------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake-openai: " + format, *args)

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.fake._next_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._headers_sent = True
        self.wfile.write(data)

    def _send_json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", headers)

    def _send_error(self, error: _ApiError) -> None:
        self._send_json(error.body, error.status, error.headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.fake._next_id("req"))
        self.end_headers()
        self._headers_sent = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._write_chunk(f"data: {text}\n\n".encode())

    def _end_stream(self) -> None:
        self._write_chunk(b"")

    # -- shared checks ----------------------------------------------------------------------------------

    def _require_model(self, model: Any, kind: str, endpoint: str) -> str:
        if model is None:
            raise _missing("model")
        name = str(model)
        actual = self.fake.models.get(name)
        if actual is None:
            raise _model_not_found(name)
        if actual == kind:
            return name
        if kind == "chat":
            raise _ApiError(
                404,
                "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
                "Did you mean to use v1/completions?",
                param="model",
            )
        allowed = ", ".join(f"'{m}'" for m, k in self.fake.models.items() if k == kind)
        raise _ApiError(
            400,
            f"Invalid value: '{name}'. Supported values for {endpoint} are: {allowed}.",
            param="model",
            code="invalid_value",
        )

    @staticmethod
    def _json_body(request: RecordedRequest) -> dict[str, Any]:
        if not isinstance(request.json, dict):
            raise _ApiError(400, "The request body must be a JSON object.")
        return request.json

    # -- chat chunks (also sent by the broken_stream failure) -------------------------------------------

    def _chunk(self, chunk_id: str, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
