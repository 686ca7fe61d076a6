"""The chat completions endpoint, plain and streamed."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from .errors import _context_length_error, _missing
from .helpers import IMAGE_TOKENS, count_tokens
from .recorded import RecordedRequest
from .transport import _HandlerBase

_STREAM_PIECE_RE = re.compile(r"\s*\S+|\s+$")
_MAX_STREAM_PIECE = 12


def _chat_prompt_tokens(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "text":
                    total += count_tokens(str(part.get("text", "")))
                elif isinstance(part, Mapping) and part.get("type") == "image_url":
                    total += IMAGE_TOKENS
    return total


def _stream_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    for word in _STREAM_PIECE_RE.findall(text):
        pieces.extend(word[i : i + _MAX_STREAM_PIECE] for i in range(0, len(word), _MAX_STREAM_PIECE))
    return pieces


class _ChatMixin(_HandlerBase):
    """Serves `POST /chat/completions`."""

    def _chat(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = self._require_model(body.get("model"), "chat", "chat completions")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _missing("messages")
        prompt_tokens = _chat_prompt_tokens(messages)
        if fake.context_limit is not None and prompt_tokens > fake.context_limit:
            raise _context_length_error(fake.context_limit, prompt_tokens)
        reply = fake._reply_for(body)
        finish = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and count_tokens(reply) > limit:
            reply = "".join(_stream_pieces(reply)[:limit])
            finish = "length"
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": count_tokens(reply),
            "total_tokens": prompt_tokens + count_tokens(reply),
        }
        chat_id = fake._next_id("chatcmpl")
        if not body.get("stream"):
            self._send_json(
                {
                    "id": chat_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                }
            )
            return
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

        def send(delta: dict[str, Any], finish_reason: str | None) -> None:
            chunk = self._chunk(chat_id, model, delta, finish_reason)
            if include_usage:
                chunk["usage"] = None
            self._write_event(chunk)

        self._start_stream()
        send({"role": "assistant", "content": "", "refusal": None}, None)
        for piece in _stream_pieces(reply):
            fake._sleep(fake.stream_delay)
            send({"content": piece}, None)
        send({}, finish)
        if include_usage:
            final = self._chunk(chat_id, model, {}, None)
            final["choices"] = []
            final["usage"] = usage
            self._write_event(final)
        self._write_event("[DONE]")
        self._end_stream()
