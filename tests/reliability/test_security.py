"""Security: secrets stay out of replies and log output (crash reports included), file names stay inside
DATA_DIR, dependencies are pinned, and the image runs unprivileged with its data on a volume."""

from __future__ import annotations

import io
import logging
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.__main__ import configure_logging as configure
from bot.chat import ChatService
from bot.files import safe_filename
from bot.services import Services
from tests.conftest import TEST_KEY, TEST_TOKEN
from tests.fakes.discord import FakeDiscord
from tests.reliability.conftest import SECRETS, everything_shown, final_text, leaked_secrets

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


# --- the Docker image ------------------------------------------------------------------------------


def final_stage() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    steps = [[*line.split(None, 1), ""][:2] for line in lines]
    steps = [(op.upper(), args) for op, args in steps]
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_image_runs_as_a_non_root_user() -> None:
    users = [args.split(":")[0].strip() for op, args in final_stage() if op == "USER"]
    assert users, "the final stage never switches away from root"
    assert users[-1] not in ("0", "root")


def test_data_dir_is_a_volume() -> None:
    stage = final_stage()
    env = " ".join(args for op, args in stage if op == "ENV")
    found = re.search(r"DATA_DIR=(\S+)", env)
    assert found, "DATA_DIR is not set in the image"
    volumes = " ".join(args for op, args in stage if op == "VOLUME")
    assert found.group(1).strip("\"'") in volumes


def test_no_secret_is_baked_into_a_layer() -> None:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    for line in text.splitlines():
        op = line.strip().split(None, 1)[0].upper() if line.strip() else ""
        if op in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_.]*)=", line) or line.split()[1:2]
            assert not [n for n in names if SECRET_WORDS.search(n)], line
        if op in ("COPY", "ADD"):
            assert ".env" not in line.split(), line
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and "data" in ignored


def test_dependencies_are_pinned_in_the_constraints_the_readme_installs_with() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower())
        assert pins.get(name), f"{name} is not pinned in constraints.txt"
    assert "-c constraints.txt" in (ROOT / "README.md").read_text()
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()


# --- secrets in logs and crash reports ----------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["colour", "plain"])
def product_logging(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The bot's own logging set-up (as `python -m bot` does it) writing to a buffer, undone afterwards.

    discord.py colours its output on a TTY and in any Docker container; both formats are checked.
    """
    output = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with monkeypatch.context() as patch:
        patch.setattr(discord.utils, "stream_supports_colour", lambda stream: request.param)
        patch.setattr(sys, "stderr", output)  # where the handler it makes writes
        configure("DEBUG", SECRETS)
    yield output
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


async def test_a_crash_report_never_shows_a_secret(
    rfd: FakeDiscord, product_logging: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        # A bug that puts the settings into an exception: the worst case for a crash report.
        raise RuntimeError(f"upstream refused key={TEST_KEY} token={TEST_TOKEN}")

    monkeypatch.setattr(ChatService, "reply", broken)
    guild = rfd.guild("Team")
    general, alice = rfd.text_channel(guild, "general"), rfd.member(guild, "alice")
    await rfd.send_message(general, alice, "hello", mentions_bot=True)
    assert "error id" in rfd.last_sent(general).content
    assert not leaked_secrets(everything_shown(rfd))
    output = product_logging.getvalue()
    assert "upstream refused key=*** token=***" in output and "Traceback" in output  # reported, masked
    assert not leaked_secrets([output])


# --- file names and DATA_DIR -----------------------------------------------------------------------


@given(st.text(max_size=300))
def test_a_sanitized_name_stays_inside_any_folder(name: str) -> None:
    safe = safe_filename(name)
    folder = Path("/srv/teambot/data")
    assert safe and "/" not in safe and "\\" not in safe and safe not in (".", "..")
    assert (folder / safe).resolve().parent == folder
    assert len(safe.encode("utf-8")) <= 240
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in safe)


def files_in(folder: Path) -> set[Path]:
    """Every file under a folder."""
    return {p for p in folder.rglob("*") if p.is_file()}


def outside(root: Path, data_dir: Path) -> set[Path]:
    """Every path under root but outside DATA_DIR."""
    return {p for p in root.rglob("*") if not p.is_relative_to(data_dir)}


HOSTILE_NAMES = (
    "../../../outside.md",
    "..\\..\\outside.txt",
    "/etc/cron.d/outside.txt",
    "sub/dir/\x00nul\x1b[31m.md",
    ".hidden.md",
    "\u202eexe.txt",
    "..",
)


async def test_uploads_write_nothing_outside_data_dir(
    tmp_path: Path, rfd: FakeDiscord, rservices: Services
) -> None:
    guild = rfd.guild("Team")
    general, alice = rfd.text_channel(guild, "general"), rfd.member(guild, "alice")
    before = outside(tmp_path, rservices.settings.data_dir)
    for i, name in enumerate(HOSTILE_NAMES):
        rec = await rfd.slash("docs add", {"file": (name, f"# Note {i}\n\nA harmless note.".encode())},
                              user=alice, channel=general)
        assert "✅" in final_text(rec), final_text(rec)  # indexed, or replaced a file of the same safe name
        fix = await rfd.slash("code fix", {"file": (name.replace(".md", ".py"), b"x = 1\n")},
                              user=alice, channel=general)
        for message in fix.messages:
            for file in message.files:
                assert "/" not in file.filename and "\\" not in file.filename and ".." not in file.filename
    assert outside(tmp_path, rservices.settings.data_dir) == before, "an upload wrote outside DATA_DIR"
    inside = {p.name.removesuffix("-wal").removesuffix("-shm") for p in files_in(rservices.settings.data_dir)}
    assert inside <= {"teambot.sqlite3", "chunks.sqlite3"}, inside
    for doc in await rservices.store.documents([f"server:{guild.id}"]):
        assert doc.name == safe_filename(doc.name) and not doc.name.startswith(".")
