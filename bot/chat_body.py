"""A chat request's JSON body, each text message encoded once.

Every turn resends the channel's whole conversation (a few hundred messages near the token budget), and
encoding it again each time was a tenth of the bot's CPU per turn at 50 busy channels (bench/load.py).
A text message's JSON depends only on its role and content, so it is kept: a turn encodes its two new
messages and joins the rest. The bytes are what the SDK itself would send (`openapi_dumps`: compact,
UTF-8, no NaN), passed to it as a ready body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def encode(obj: Any) -> bytes:
    """JSON as the SDK sends it."""
    return _encode(obj).encode()


# About 64k messages: every active channel's window with room to spare, a few tens of MB at most.
@lru_cache(maxsize=65_536)
def _text_message(role: str, content: str) -> bytes:
    return encode({"role": role, "content": content})


def _message(message: Mapping[str, Any]) -> bytes:
    content = message.get("content")
    if len(message) == 2 and isinstance(content, str) and isinstance(message.get("role"), str):
        return _text_message(message["role"], content)
    return encode(message)  # images, tool calls: encoded as they are, not kept


def chat_body(params: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> bytes:
    """The JSON body of a chat completion: `params` (model, stream, limits) and the `messages`."""
    fields = {key: value for key, value in params.items() if key != "messages"}
    head = encode({**fields, "messages": []})  # {...,"messages":[]}: the messages go between the brackets
    return b"".join((head[:-2], b",".join(_message(m) for m in messages), b"]}"))
