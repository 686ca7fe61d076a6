"""`teambot doctor`: one line per check, ok or BAD, and exit status 1 when anything is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import doctor
from bot.config import Settings
from index.vectors import DB_NAME
from tests.conftest import TEST_KEY, make_settings
from tests.fakes.openai_server import FakeOpenAI


async def run_doctor(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    status = await doctor(settings)
    return status, capsys.readouterr().out.splitlines()


async def test_a_good_set_up_is_all_good(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = await run_doctor(settings, capsys)
    assert status == 0 and lines[-1] == "All good."
    assert all(line.startswith("ok ") for line in lines[:-1]), lines
    assert any("no document index yet" in line for line in lines)
    assert any("CHAT_MODEL gpt-4o-mini is available" in line for line in lines)
    assert not any(TEST_KEY in line for line in lines)


async def test_an_existing_index_is_opened(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.services import Services

    await (await Services.create(settings)).aclose()  # creates the index
    status, lines = await run_doctor(settings, capsys)
    opened = [line for line in lines if line.startswith("ok ") and "opens" in line and DB_NAME in line]
    assert status == 0 and len(opened) == 1


async def test_a_broken_index_is_reported(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / DB_NAME).write_bytes(b"not a database at all " * 50)
    status, lines = await run_doctor(settings, capsys)
    bad = [line for line in lines if line.startswith("BAD")]
    assert status == 1 and len(bad) == 1
    assert "can't be opened (file is not a database)" in bad[0] and "documents would be unavailable" in bad[0]
    assert lines[-1] == "1 problem(s) found."


async def test_a_missing_model_and_a_provider_that_is_down(
    tmp_path: Path, fake_ai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ai.set_models(["gpt-4o-mini", "gpt-image-1"])  # no embedding model
    status, lines = await run_doctor(make_settings(tmp_path / "data", fake_ai.base_url), capsys)
    assert status == 1
    assert "BAD  EMBED_MODEL text-embedding-3-small is not offered by the provider" in lines
    down = make_settings(tmp_path / "data", "http://127.0.0.1:9/v1", max_retries=0)  # nothing listens there
    status, lines = await run_doctor(down, capsys)
    assert status == 1 and any(line.startswith("BAD  the AI provider: ") for line in lines)
    assert not any(TEST_KEY in line for line in lines)


async def test_a_data_dir_that_is_not_writable(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = settings.model_copy(update={"data_dir": settings.data_dir / "file"})
    blocked.data_dir.write_text("a file where the directory should be")
    status, lines = await run_doctor(blocked, capsys)
    bad = [line for line in lines if line.startswith("BAD")]
    assert status == 1 and len(bad) == 1
    assert bad[0].startswith("BAD  DATA_DIR") and "is not writable" in bad[0]
