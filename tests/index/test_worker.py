"""Parsing in a worker process: refusals cross it whole, a dead or stuck worker costs only its file."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.i18n import Msg
from bot.services import Services
from index.ingest import parse_document
from index.library import Where
from index.worker import ParseWorker
from tests.index.builders import encrypt_pdf, make_docx, make_pdf

ROOT = Path(__file__).resolve().parents[2]
GENERAL = Where(guild_id=1, channel_id=10, user_id=7)


def die() -> None:
    """A job that kills its own process, as a parser crash or the OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


def pages(count: int) -> bytes:
    """A PDF long enough (about half a second to read) for a test to act while it is being read."""
    return make_pdf([f"Page {p}: record {p} is kept in region {p % 7}.\n" * 30 for p in range(count)])


async def add(services: Services, data: bytes, name: str) -> object:
    return await services.library.add(data, name, GENERAL, uploader_id=7, uploader_name="Ann")


async def until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
async def worker() -> AsyncIterator[ParseWorker]:
    w = ParseWorker()
    yield w
    await w.aclose()


def test_user_error_survives_pickling_with_every_field() -> None:
    inner = UserError("'{name}' is empty (0 bytes).", kind="empty", params={"name": "a.txt"})
    error = UserError(
        "'{name}': {reason}",
        kind="corrupt",
        retry_after=2.5,
        params={"name": "notes {draft}.pdf", "reason": inner, "what": Msg("PDF")},
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is UserError and str(copy) == copy.message == error.message
    assert (copy.template, copy.kind, copy.retry_after) == (error.template, "corrupt", 2.5)
    assert copy.params["reason"].kind == "empty" and copy.params["what"].text == "PDF"
    assert copy.localized("ja") == error.localized("ja") != error.message


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.txt"),
        (b"%PDF-1.4 broken", "broken.pdf"),
        (encrypt_pdf(make_pdf(["secret"]), user_password="pw"), "locked.pdf"),
        (make_pdf(["", ""]), "scan.pdf"),
        (b"PK\x03\x04" + bytes(40), "book.docx"),
        (make_docx([], document_xml="<!DOCTYPE x><x/>"), "dtd.docx"),
    ],
)
async def test_refusals_from_the_worker_are_the_ones_parsing_here_gives(
    services: Services, data: bytes, name: str
) -> None:
    with pytest.raises(UserError) as here:
        parse_document(data, name)
    with pytest.raises(UserError) as there:
        await add(services, data, name)
    assert there.value.kind == here.value.kind and there.value.message == here.value.message
    assert there.value.localized("ja") == here.value.localized("ja")
    assert services.library.worker.pids(), "it came from the worker process"
    assert await services.library.visible(GENERAL) == []


async def test_a_worker_killed_mid_upload_refuses_that_file_and_the_next_upload_works(
    services: Services,
) -> None:
    library = services.library
    upload = asyncio.create_task(add(services, pages(100), "manual.pdf"))
    await until(lambda: library.worker.busy and library.worker.pids())
    victim = library.worker.pids()[0]
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(UserError) as caught:
        await upload
    assert caught.value.kind == "corrupt" and "'manual.pdf'" in caught.value.message
    assert "crashed the document reader" in caught.value.message
    assert "破損" in caught.value.localized("ja")
    assert await library.visible(GENERAL) == [] and not await services.store.unfinished_documents()

    result = await add(services, make_pdf(["The warranty lasts five years."]), "warranty.pdf")
    assert result.status == "indexed" and result.record.chunks == 1  # type: ignore[attr-defined]
    assert library.worker.pids() and victim not in library.worker.pids()


async def test_a_worker_that_died_between_uploads_is_replaced_without_refusing_anything(
    services: Services,
) -> None:
    await add(services, b"The build server runs Jenkins.", "ops.txt")
    (first,) = services.library.worker.pids()
    os.kill(first, signal.SIGKILL)
    await until(lambda: not services.library.worker.pids())
    result = await add(services, b"The office wifi is called teamnet.", "wifi.txt")
    assert result.status == "indexed"  # type: ignore[attr-defined]
    assert services.library.worker.pids() not in ([], [first])


async def test_a_job_that_crashes_its_worker_is_refused_for_its_file(worker: ParseWorker) -> None:
    with pytest.raises(UserError) as caught:
        await worker.run("hostile.pdf", die)
    assert caught.value.kind == "corrupt" and "'hostile.pdf'" in caught.value.message
    assert await worker.run("next.txt", os.getpid) not in (0, os.getpid())


async def test_a_job_over_its_time_is_stopped_and_refused(worker: ParseWorker) -> None:
    first = await worker.run("warm.txt", os.getpid)
    worker.timeout = 0.3
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        await worker.run("endless.pdf", time.sleep, 60)
    assert time.monotonic() - started < 5
    assert caught.value.kind == "timeout" and "'endless.pdf'" in caught.value.message
    await until(lambda: gone(first))
    worker.timeout = 30
    assert await worker.run("next.txt", os.getpid) != first


async def test_closing_stops_a_busy_worker_promptly(worker: ParseWorker) -> None:
    job = asyncio.create_task(worker.run("slow.pdf", time.sleep, 60))
    await until(lambda: worker.busy and worker.pids(), seconds=60)  # the first start imports the parsers
    (pid,) = worker.pids()
    started = time.monotonic()
    await worker.aclose()
    assert time.monotonic() - started < 5 and gone(pid)
    with pytest.raises(UserError) as refused:
        await job
    assert refused.value.kind == "unavailable" and "restarting" in refused.value.message  # not "damaged"
    with pytest.raises(RuntimeError):
        await worker.run("late.txt", os.getpid)


async def test_closing_before_the_worker_took_the_job_refuses_it_the_same_way(worker: ParseWorker) -> None:
    await worker.run("warm.txt", os.getpid)
    job = asyncio.create_task(worker.run("queued.pdf", time.sleep, 60))
    await asyncio.sleep(0)  # the job is handed to the pool ...
    assert worker.busy
    await worker.aclose()  # at once: the job may still be on its way to the worker
    with pytest.raises(UserError) as refused:
        await job
    assert refused.value.kind == "unavailable"


def test_the_worker_exits_when_the_bot_is_killed() -> None:
    script = (
        "import asyncio, os, sys, time\n"
        "from index.worker import ParseWorker\n"
        "async def main():\n"
        "    worker = ParseWorker()\n"
        "    print(await worker.run('x.txt', os.getpid), flush=True)\n"
        "    time.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    bot = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None
        pid = int(bot.stdout.readline())
        bot.kill()
        bot.wait(10)
        deadline = time.monotonic() + 10
        while not gone(pid):
            assert time.monotonic() < deadline, "the worker outlived the bot"
            time.sleep(0.05)
        # Nothing keeps the dead bot's output open: whoever reads it to the end is not left waiting.
        assert bot.stdout.read() == ""
    finally:
        bot.kill()
