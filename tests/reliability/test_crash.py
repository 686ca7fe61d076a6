"""Crash safety: the core under load is killed with SIGKILL at random moments and restarted on the same
DATA_DIR; nothing it acknowledged is lost, nothing is half-written, and recovery leaves no ingest half done.

The driver (crash_driver.py) runs in its own process against a fake provider in this one. CI kills it 3
times; `RELIABILITY_KILLS=20` (or `RELIABILITY_FULL=1`) for the full run.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from llama_index.core.schema import MetadataMode

from bot.services import Services
from bot.store import DocumentRecord
from tests.conftest import TEST_KEY, TEST_TOKEN
from tests.fakes.openai_server import FakeOpenAI, embed_text
from tests.reliability import crash_driver as driver
from tests.reliability.conftest import LIMITS_OFF, knob, leaked_secrets, reliability_settings

ROOT = Path(__file__).resolve().parents[2]
KILLS = knob("RELIABILITY_KILLS", 3, 20)
SEED = knob("RELIABILITY_SEED", 7, 7)
READY_WITHIN = 60.0
KEY, SHARD = f"server:{driver.guild_id(0)}", str(driver.guild_id(0))
_USER = re.compile(r"^\[user(\d+)\] ch=(\d+) run=(\d+) n=(\d+) word(\d+)x$")


@dataclass
class Journal:
    """What the driver acknowledged over all its runs, read from its output."""

    acks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)  # name → doc id, last acknowledged
    handbook: list[tuple[str, bool]] = field(default_factory=list)  # (marker, acknowledged) in order
    started: dict[str, str] = field(default_factory=dict)  # marker → name, every ingest begun
    finished: set[str] = field(default_factory=set)  # markers of the ingests acknowledged
    output: list[str] = field(default_factory=list)

    def cut_off(self) -> dict[str, str]:
        """The ingests begun but never acknowledged (read after a kill: cut off by it), marker → name."""
        return {marker: name for marker, name in self.started.items() if marker not in self.finished}

    def read(self, line: str) -> None:
        """Take one output line into account."""
        self.output.append(line)
        parts = line.split()
        if parts[:1] == ["ACK"]:
            self.acks.setdefault(int(parts[1]), []).append((int(parts[2]), int(parts[3])))
        elif parts[:1] == ["DOCSTART"]:
            self.started[parts[2]] = parts[1]
            if parts[1] == driver.HANDBOOK:
                self.handbook.append((parts[2], False))
        elif parts[:1] == ["DOC"]:
            self.docs[parts[1]] = parts[2]
            self.finished.add(parts[3])
            if parts[1] == driver.HANDBOOK:
                self.handbook[-1] = (parts[3], True)


@pytest.fixture
def provider() -> Iterator[FakeOpenAI]:
    """A fake provider of its own: a little latency and a streamed reply, so kills land mid-turn."""
    with FakeOpenAI(api_key=TEST_KEY, latency=0.02, stream_delay=0.004) as fake:
        yield fake


def driver_env(data_dir: Path, base_url: str) -> dict[str, str]:
    """The driver's environment: this one without settings, plus the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "DISCORD", "DATA_DIR"))}
    env.update({name.upper(): str(value) for name, value in LIMITS_OFF.items()})
    env.update(
        PYTHONPATH=str(ROOT),
        DATA_DIR=str(data_dir),
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY=TEST_KEY,
        DISCORD_TOKEN=TEST_TOKEN,
        REQUEST_TIMEOUT="10",
        LOG_LEVEL="DEBUG",
    )
    return env


def kill_mode(run: int) -> str:
    """Where run number `run` is killed, in turn: under load, in the recovery, in the middle of an ingest."""
    return ("load", "recovery", "ingest", "load")[run % 4]


async def run_and_kill(run: int, env: dict[str, str], rng: random.Random, journal: Journal) -> str:
    """Start the driver, SIGKILL it at a random moment, collect what it acknowledged; says when it died.

    "load": 0.5-3 s after READY. "recovery": at STARTING. "ingest": once this run has had a document
    acknowledged, 20-300 ms after the next ingest begins (an ingest takes 50-500 ms: parse, record, embed,
    index, mark ready), so the kill lands inside it.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reliability.crash_driver", str(run), "60",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    mode = kill_mode(run)  # every fourth kill lands in start-up, most likely in the recovery itself
    spawned = time.monotonic()
    kill_at: float | None = None
    when = "start-up"
    acknowledged = False  # a document of this run, in "ingest" mode
    while True:
        limit = (kill_at if kill_at is not None else spawned + READY_WITHIN) - time.monotonic()
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=max(limit, 0.001))
        except TimeoutError:
            break
        if not line:
            raise AssertionError(f"driver exited early: {(await proc.stderr.read()).decode()[-3000:]}")
        journal.read(line.decode().strip())
        if line == b"STARTING\n" and mode == "recovery":
            when = "recovery"
            break  # at once: recovering a cut-off ingest or two takes milliseconds
        if line == b"READY\n" and mode == "load":
            kill_at, when = time.monotonic() + rng.uniform(0.5, 3.0), "load"
        if mode == "ingest" and kill_at is None:
            acknowledged = acknowledged or line.startswith(b"DOC ")
            if acknowledged and line.startswith(b"DOCSTART "):
                kill_at, when = time.monotonic() + rng.uniform(0.02, 0.3), "ingest"
    proc.send_signal(signal.SIGKILL)
    rest, errors = await proc.communicate()
    for line in rest.decode().splitlines(keepends=True):
        if line.endswith("\n"):  # a line cut by the kill was never acknowledged
            journal.read(line.strip())
    journal.output.append(errors.decode())
    return f"{when} +{time.monotonic() - spawned:.2f}s"


def integrity(path: Path) -> str:
    """PRAGMA integrity_check of a database file, as a fresh process would see it."""
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def chunks_per_document(path: Path) -> dict[str, int]:
    """How many chunks each document id has in the index file."""
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id").fetchall())
    finally:
        db.close()


async def check_chat(services: Services, journal: Journal) -> int:
    """Acknowledged turns are all there; each channel's history is its own and in order."""
    total = 0
    for c in range(driver.CHANNELS):
        turns = await services.store.all_turns(driver.channel_id(c))
        position = {t.content: i for i, t in enumerate(turns) if t.role == "user"}
        for run, n in journal.acks.get(c, []):  # the question and, right after it, its answer
            i = position.get(f"[user{c}] {driver.user_text(c, run, n)}")
            assert i is not None and i + 1 < len(turns) and turns[i + 1].role == "assistant", (c, run, n)
        previous: tuple[int, int] | None = None
        for i, turn in enumerate(turns):
            assert turn.guild_id == driver.guild_id(c)
            if turn.role == "assistant":
                assert i > 0 and turns[i - 1].role == "user", f"channel {c}: a reply without its question"
                assert turn.content == f"echo: {turns[i - 1].content}", f"channel {c}: mixed up reply"
                continue
            found = _USER.match(turn.content)
            assert found and {int(found[1]), int(found[2]), int(found[5])} == {c}, turn.content
            step = (int(found[3]), int(found[4]))
            assert previous is None or step > previous, f"channel {c}: {step} after {previous}"
            if i > 0 and turns[i - 1].role == "user":  # an unanswered question: only where a kill cut it
                assert previous is not None and previous[0] < step[0], f"channel {c}: lost a reply"
            previous = step
        total += len(turns)
    return total


@dataclass
class DocumentsChecked:
    """What check_documents looked at."""

    documents: int = 0  # records, all ready, whole and answering queries
    acknowledged: int = 0  # of them, acknowledged as indexed by the driver
    complete: set[str] = field(default_factory=set)  # markers of cut-off ingests found whole
    absent: set[str] = field(default_factory=set)  # markers of cut-off ingests found without a trace


async def check_documents(services: Services, data_dir: Path, journal: Journal) -> DocumentsChecked:
    """Every document is ready with all its chunks and answers a query; nothing half-indexed remains; every
    ingest the kills cut off is either whole or has left nothing behind."""
    store, vectors = services.store, services.vectors
    docs = await store.documents([KEY], status=None)
    assert all(d.status == "ready" for d in docs), [(d.name, d.status) for d in docs]
    assert chunks_per_document(data_dir / "index" / "chunks.sqlite3") == {d.id: d.chunks for d in docs}
    by_name = {d.name: d for d in docs}
    assert len(by_name) == len(docs), "two records with one name"
    for name, doc_id in journal.docs.items():
        if name != driver.HANDBOOK:
            assert name in by_name and by_name[name].id == doc_id, f"acknowledged {name} is gone"
    handbook = handbook_marker(services, by_name.get(driver.HANDBOOK), journal)
    markers = {}
    for doc in docs:
        marker = handbook if doc.name == driver.HANDBOOK else driver.doc_marker(*name_numbers(doc.name))
        markers[doc.id] = marker
        found = vectors.keyword_search(SHARD, [KEY], marker, 5)
        hits = [node for node, _ in found if node.metadata["doc_id"] == doc.id]
        assert hits, f"{doc.name}: keyword search misses it"
        # The fake embeds a text the same way every time: the chunk's own text must find it first.
        near = vectors.search(SHARD, [KEY], embed_text(hits[0].get_content(MetadataMode.EMBED), 512), 3)
        assert doc.id in {n.metadata["doc_id"] for n, _ in near}, f"{doc.name}: vector search misses it"
        # Its last sentence is indexed too: the document is whole, not cut after its first chunks.
        assert doc.id in found_by_keyword(services, end_word(marker)), f"{doc.name}: its end is missing"
    checked = DocumentsChecked(len(docs), sum(name in by_name for name in journal.docs))
    present = set(markers.values())
    for marker, name in journal.cut_off().items():
        if marker in present:  # whole: checked above like every document
            checked.complete.add(marker)
        else:  # absent: not one chunk of it anywhere
            assert not found_by_keyword(services, marker) | found_by_keyword(services, end_word(marker)), (
                f"cut-off ingest of {name} ({marker}) left chunks behind"
            )
            checked.absent.add(marker)
    return checked


def name_numbers(name: str) -> tuple[int, int]:
    """The run and the number k of a document named doc-<run>-<k>.md."""
    run, k = (int(x) for x in re.findall(r"\d+", name))
    return run, k


def end_word(marker: str) -> str:
    """The end word of the document whose marker word this is."""
    run, k = (int(x) for x in re.findall(r"\d+", marker))
    return driver.doc_end(run, k)


def found_by_keyword(services: Services, word: str) -> set[str]:
    """The documents a keyword search for `word` finds."""
    return {n.metadata["doc_id"] for n, _ in services.vectors.keyword_search(SHARD, [KEY], word, 5)}


def handbook_marker(services: Services, record: DocumentRecord | None, journal: Journal) -> str:
    """The marker of the handbook version that survived: the last acknowledged one or a later one."""
    acknowledged = [i for i, (_, acked) in enumerate(journal.handbook) if acked]
    if record is None:
        assert not acknowledged, "an acknowledged handbook is gone"
        return ""
    survivors = [i for i, (m, _) in enumerate(journal.handbook) if record.id in found_by_keyword(services, m)]
    assert len(survivors) == 1, f"handbook versions mixed: {survivors}"
    assert not acknowledged or survivors[0] >= acknowledged[-1], "an older handbook came back"
    return journal.handbook[survivors[0]][0]


async def verify(data_dir: Path, base_url: str, journal: Journal) -> tuple[int, int, DocumentsChecked]:
    """Restart on DATA_DIR like the bot does and check everything; returns (recovered, turns, documents)."""
    for path in (data_dir / "teambot.sqlite3", data_dir / "index" / "chunks.sqlite3"):
        if path.exists():
            assert integrity(path) == "ok", path
    services = await Services.create(reliability_settings(data_dir, base_url))
    try:
        interrupted = len(await services.store.unfinished_documents())
        await services.start()
        assert not await services.store.unfinished_documents()
        turns = await check_chat(services, journal)
        documents = await check_documents(services, data_dir, journal)
    finally:
        await services.aclose()
    return interrupted, turns, documents


@pytest.mark.timeout(90 + 15 * KILLS)
async def test_sigkill_at_random_moments_loses_nothing_acknowledged(
    tmp_path: Path, provider: FakeOpenAI
) -> None:
    data_dir = tmp_path / "data"
    env = driver_env(data_dir, provider.base_url)
    rng = random.Random(SEED)
    journal = Journal()
    report = []
    complete: set[str] = set()
    absent: set[str] = set()
    acknowledged = recovered = 0
    for run in range(KILLS):
        when = await run_and_kill(run, env, rng, journal)
        # A restart on a copy is checked; the next run restarts on the original and recovers it itself,
        # so a later kill can land in the middle of that recovery.
        copy = tmp_path / "check"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data_dir, copy)
        interrupted, turns, docs = await verify(copy, provider.base_url, journal)
        acked = sum(len(a) for a in journal.acks.values())
        complete |= docs.complete
        absent |= docs.absent
        acknowledged = max(acknowledged, docs.acknowledged)
        recovered += interrupted
        report.append(f"kill {run + 1} in {when}: {acked} turns acknowledged so far, {turns} stored, "
                      f"{docs.documents} documents ({docs.acknowledged} acknowledged), "
                      f"{len(docs.complete)} cut-off ingests whole and {len(docs.absent)} absent, "
                      f"{interrupted} left to recover")
    print("\n" + "\n".join(report))
    print(f"over the run: {acknowledged} acknowledged documents checked, {len(complete)} cut-off ingests "
          f"found whole and {len(absent)} absent, {recovered} half-done ingests recovered")
    assert sum(len(a) for a in journal.acks.values()) > 0, "the driver never got going"
    assert acknowledged > 0, "no acknowledged document was ever checked"
    if any(kill_mode(run) == "ingest" for run in range(KILLS)):
        assert complete | absent, "no kill cut an ingest off"
    if KILLS >= 10:  # the full run: some kill landed after an ingest wrote its record and before it was done
        assert recovered > 0, "no kill cut an ingest off half-way"
    assert not leaked_secrets(journal.output)
