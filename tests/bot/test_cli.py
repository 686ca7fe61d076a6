"""`teambot ingest` and `teambot ask` from a terminal: same pipeline, real files, real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_KEY
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


def teambot(tmp_path: Path, fake_ai: FakeOpenAI, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "DISCORD"))}
    env.update(
        PYTHONPATH=str(ROOT),
        OPENAI_API_KEY=TEST_KEY,
        OPENAI_BASE_URL=fake_ai.base_url,
        DATA_DIR=str(tmp_path / "data"),
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_ingest_a_folder_then_ask(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "holidays.md").write_text("# Holidays\n\nStaff get twenty-eight paid holiday days per year.\n")
    (docs / "sub" / "ops.txt").write_text("The build server runs Jenkins on port 8080.")
    (docs / "broken.pdf").write_bytes(b"not a pdf")
    result = teambot(tmp_path, fake_ai, "ingest", str(docs), "--guild", "42")
    assert result.returncode == 1  # one file failed
    assert "ok    " in result.stderr and "holidays.md: indexed" in result.stderr
    assert "FAIL" in result.stderr and "broken.pdf" in result.stderr and "damaged" in result.stderr
    fake_ai.reply_with("Twenty-eight days [1].")
    answer = teambot(tmp_path, fake_ai, "ask", "how many paid holiday days?", "--guild", "42")
    assert answer.returncode == 0, answer.stderr
    assert "Twenty-eight days [1]." in answer.stdout and "[1] holidays.md (Holidays)" in answer.stdout
    other = teambot(tmp_path, fake_ai, "ask", "how many paid holiday days?", "--guild", "43")
    assert other.returncode == 1 and "couldn't find anything" in other.stdout


def test_a_broken_document_index_is_one_line_not_a_traceback(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    index = tmp_path / "data" / "index"
    index.mkdir(parents=True)
    (index / "chunks.sqlite3").write_bytes(b"not a database " * 100)
    for command in (["ask", "anything?", "--guild", "42"], ["ingest", str(tmp_path), "--guild", "42"]):
        result = teambot(tmp_path, fake_ai, *command)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"teambot: the document index in {index} can't be opened (file is not a database); "
            "`teambot doctor` checks the set-up"
        ]
