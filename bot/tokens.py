"""Token counting that works offline, with the tiktoken tables that llama-index-core ships."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "cl100k_base"


def bundled_tiktoken_cache() -> Path | None:
    """The tiktoken cache folder inside llama-index-core, or None when it is not installed."""
    # find_spec locates the package without importing it, so this module stays cheap to import.
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        cache = Path(location) / "_static" / "tiktoken_cache"
        if cache.is_dir():
            return cache
    return None


def ensure_tiktoken_offline() -> None:
    """Point TIKTOKEN_CACHE_DIR at llama-index-core's bundled tables unless it is already set."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return
    cache = bundled_tiktoken_cache()
    if cache is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


@functools.cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken encoding `name` (cl100k_base or o200k_base), loaded once and without the network."""
    ensure_tiktoken_offline()
    import tiktoken

    return tiktoken.get_encoding(name)


def encode(text: str, encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Token ids of `text`; special-token markers in user text are treated as plain text."""
    return get_encoding(encoding).encode(text, disallowed_special=())


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """How many tokens `text` is in `encoding`."""
    if not text:
        return 0
    return len(encode(text, encoding))


def clip_tokens(text: str, limit: int, encoding: str = DEFAULT_ENCODING) -> str:
    """`text` cut to its first `limit` tokens (whole, if it fits); never ends in half a character."""
    tokens = encode(text, encoding)
    if len(tokens) <= limit:
        return text
    return get_encoding(encoding).decode(tokens[: max(0, limit)]).rstrip("\ufffd")
