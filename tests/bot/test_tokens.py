"""Token counting works offline, from the tables llama-index-core ships."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import tokens

ROOT = Path(__file__).resolve().parents[2]


def test_counts_tokens_with_cl100k_by_default() -> None:
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("") == 0


def test_counts_tokens_with_o200k() -> None:
    assert tokens.count_tokens("hello world", "o200k_base") == 2


def test_special_token_markers_in_user_text_are_plain_text() -> None:
    assert tokens.count_tokens("<|endoftext|>") > 1


def test_japanese_text_is_counted() -> None:
    assert 5 < tokens.count_tokens("吾輩は猫である。名前はまだ無い。") < 40


def test_ensure_offline_points_at_llama_index_cache_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tokens.ensure_tiktoken_offline()
    cache = Path(os.environ["TIKTOKEN_CACHE_DIR"])
    assert cache.parts[-3:] == ("core", "_static", "tiktoken_cache")
    assert len(list(cache.iterdir())) >= 2


def test_ensure_offline_keeps_an_existing_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.ensure_tiktoken_offline()
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path)


def _run(code: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    # An empty temp dir (tiktoken's own default cache) and a dead proxy: only the bundled tables can work.
    env |= {"TMPDIR": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_counting_works_in_a_fresh_process_without_network(tmp_path: Path) -> None:
    assert _run("from bot.tokens import count_tokens; print(count_tokens('hello world'))", tmp_path) == "2"


def test_import_loads_nothing_heavy(tmp_path: Path) -> None:
    code = "import sys, bot.tokens; print('tiktoken' in sys.modules, 'llama_index' in sys.modules)"
    assert _run(code, tmp_path) == "False False"


def test_clip_keeps_whole_text_that_fits_and_never_half_a_character() -> None:
    assert tokens.clip_tokens("hello world", 5) == "hello world"
    assert tokens.clip_tokens("hello world again", 2) == "hello world"
    japanese = "リリースは金曜日に決まりました。移行の確認をお願いします。" * 5
    for limit in range(1, 40):
        clipped = tokens.clip_tokens(japanese, limit)
        assert japanese.startswith(clipped) and "\ufffd" not in clipped
        assert tokens.count_tokens(clipped) <= limit
