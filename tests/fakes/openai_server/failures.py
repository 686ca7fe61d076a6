"""Scripted failures: timeouts, dropped connections, broken streams, malformed bodies and API errors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import _Abort, _ApiError, _context_length_error, _model_not_found
from .recorded import RecordedRequest
from .transport import _HandlerBase


class _FailureMixin(_HandlerBase):
    """Answers a request with the failure `fail_next` queued for it."""

    def _fail(self, kind: str, request: RecordedRequest) -> None:
        fake = self.fake
        source: Mapping[str, Any] = request.json if isinstance(request.json, dict) else request.form
        model = str(source.get("model") or "unknown-model")
        streaming = isinstance(request.json, dict) and bool(request.json.get("stream"))
        if kind == "timeout":
            fake._sleep(fake.timeout_sleep)
            raise _Abort
        if kind == "disconnect":
            raise _Abort
        if kind == "broken_stream":
            if streaming:
                self._start_stream()
                chunk_id = fake._next_id("chatcmpl")
                for piece in ("This answer ", "stops "):
                    self._write_event(self._chunk(chunk_id, model, {"content": piece}, None))
                    fake._sleep(fake.stream_delay)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self._headers_sent = True
                self.wfile.write(b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [')
            raise _Abort
        if kind == "malformed":
            if streaming:
                self._start_stream()
                self._write_event('{"id": "chatcmpl-broken", "choices": [{"delta": ')
                self._write_event("[DONE]")
                self._end_stream()
            else:
                self._send_bytes(
                    200, b'{"id": "chatcmpl-broken", "choices": [{"message": ', "application/json"
                )
            return
        raise self._failure_error(kind, model)

    def _failure_error(self, kind: str, model: str) -> _ApiError:
        fake = self.fake
        if kind == "rate_limit":
            headers = {
                "Retry-After": str(max(1, math.ceil(fake.retry_after))),
                "retry-after-ms": str(round(fake.retry_after * 1000)),
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{round(fake.retry_after * 1000)}ms",
            }
            return _ApiError(
                429,
                f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
                "Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/"
                "rate-limits to learn more.",
                "requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if kind == "quota":
            return _ApiError(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes"
                "/api-errors.",
                "insufficient_quota",
                code="insufficient_quota",
            )
        if kind == "server_error":
            return _ApiError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            )
        if kind == "unavailable":
            return _ApiError(
                503, "The engine is currently overloaded, please try again later.", "server_error"
            )
        if kind == "context_length":
            return _context_length_error(
                self.fake.context_limit or 128000, (self.fake.context_limit or 128000) + 1
            )
        if kind == "invalid_key":
            return _ApiError(
                401,
                "Incorrect API key provided: sk-****. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if kind == "model_not_found":
            return _model_not_found(model)
        if kind == "content_policy":
            return _ApiError(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may contain text "
                "that is not allowed by our safety system.",
                param=None,
                code="content_policy_violation",
            )
        if kind == "moderation_blocked":
            return _ApiError(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, contact us "
                "at help.openai.com and include the request ID req_fake.",
                "image_generation_user_error",
                code="moderation_blocked",
            )
        raise AssertionError(kind)
