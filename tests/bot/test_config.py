"""Settings: defaults, validation, and the one-line start-up errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
VARS = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def in_empty_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def run_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in VARS}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {"OPENAI_API_KEY": "sk-x"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0] and ".env" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_api_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {"DISCORD_TOKEN": "abc.def.ghi"}, "run")
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_malformed_value_names_the_variable(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "DEV_GUILD_ID": "abc"})
    assert result.returncode == 2
    assert "DEV_GUILD_ID" in result.stderr and "Traceback" not in result.stderr


def test_local_server_needs_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    settings = load_settings()
    assert settings.api_key_value() == "not-needed"
    assert settings.openai_base_url == "http://localhost:11434/v1"


def test_defaults_work_with_openai_and_create_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    settings = load_settings()
    assert settings.chat_model and settings.embed_model and settings.image_model
    assert (tmp_path / "data").is_dir()
    assert "sk-secret" not in repr(settings)


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nOPENAI_API_KEY=k\nCHAT_MODEL=llama3\n")
    settings = load_settings()
    assert settings.chat_model == "llama3"
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "from-file"


def test_bad_base_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434")
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        load_settings()


def test_watch_channel_ids_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "WATCH_CHANNEL_IDS": "12, 34"}.items():
        monkeypatch.setenv(k, v)
    assert load_settings().watch_channels == {12, 34}
    monkeypatch.setenv("WATCH_CHANNEL_IDS", "12,general")
    with pytest.raises(ConfigError, match="WATCH_CHANNEL_IDS"):
        load_settings()
