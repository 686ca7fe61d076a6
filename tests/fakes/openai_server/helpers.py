"""Constants and pure helpers of the fake OpenAI server (public so tests can compute expected values)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import re
import socket
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image, ImageDraw

DEFAULT_MODELS: dict[str, str] = {
    "gpt-4o-mini": "chat",
    "text-embedding-3-small": "embedding",
    "gpt-image-1": "image",
    "dall-e-3": "image",
    "omni-moderation-latest": "moderation",
}
MODEL_KINDS = frozenset({"chat", "embedding", "image", "moderation"})
FAILURE_KINDS = frozenset(
    {
        "rate_limit",
        "quota",
        "server_error",
        "unavailable",
        "timeout",
        "broken_stream",
        "malformed",
        "context_length",
        "invalid_key",
        "model_not_found",
        "content_policy",
        "moderation_blocked",
        "disconnect",
    }
)
IMAGE_TOKENS = 85
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
GPT_IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+")
_CJK_RE = re.compile(rf"[{_CJK}]")
_WORD_RE = re.compile(rf"(?:(?![{_CJK}])[^\W_])+")  # the latin words and numbers of _TOKEN_RE


def message_text(content: Any) -> str:
    """Return the text of a chat message's content, with non-text parts as `[image]`-style markers."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            pieces.append(str(part))
        elif part.get("type") == "text":
            pieces.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            pieces.append("[image]")
        else:
            pieces.append(f"[{part.get('type', 'part')}]")
    return " ".join(pieces)


@functools.lru_cache(maxsize=65_536)
def count_tokens(text: str) -> int:
    """Count words roughly as tokens: each latin word or number is one, each CJK character is one.

    Cached, and counted in C: a chat request resends the whole conversation, and counting it word by
    word in Python made the fake, not the bot, the slow side of a long bench/load.py run.
    """
    return len(_WORD_RE.findall(text)) + len(_CJK_RE.findall(text))


def text_features(text: str) -> list[str]:
    """Return the embedding features of a text: lowercase words, and CJK runs as character bigrams."""
    features: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        token = match.group()
        if _CJK_RE.match(token) and len(token) > 1:
            features.extend(token[i : i + 2] for i in range(len(token) - 1))
        else:
            features.append(token)
    return features


def embed_features(features: Iterable[str], dimensions: int) -> list[float]:
    """Hash features into `dimensions` buckets and L2-normalise; no features gives a fixed unit vector."""
    vector = [0.0] * dimensions
    for feature in features:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        return [1.0 / math.sqrt(dimensions)] * dimensions
    return [v / norm for v in vector]


def embed_text(text: str, dimensions: int = 512) -> list[float]:
    """Return the fake embedding of a text."""
    return embed_features(text_features(text), dimensions)


def encode_embedding_base64(vector: list[float]) -> str:
    """Encode a vector as OpenAI does for `encoding_format="base64"`: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def guess_model_kind(model: str) -> str:
    """Guess what a model name is for: chat, embedding, image or moderation."""
    name = model.lower()
    if "embedding" in name:
        return "embedding"
    if "moderation" in name:
        return "moderation"
    if name.startswith(("gpt-image", "dall-e")) or "image" in name:
        return "image"
    return "chat"


def closed_port_url() -> str:
    """Return a base URL on 127.0.0.1 where nothing listens, to provoke a refused connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def make_png(width: int, height: int, seed: str) -> bytes:
    """Draw a deterministic PNG of the given size, coloured from `seed`."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    image = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(digest[3], digest[4], digest[5])
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
