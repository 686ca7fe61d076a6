"""The bot's core under a steady load, for test_crash.py to kill with SIGKILL at random moments.

    python -m tests.reliability.crash_driver RUN [SECONDS]

Reads its settings from the environment (DATA_DIR, OPENAI_BASE_URL, OPENAI_API_KEY, ...), builds Services
on DATA_DIR, prints `STARTING`, runs `Services.start()` (the crash recovery) while the document parse worker
warms up, prints `READY`, then drives chat turns in 50 channels at once and document ingests through
`Library.add`, printing one line per acknowledged step:

    ACK <channel> <run> <n>           after ChatService.reply() returned: the reply was "sent"
    DOCSTART <name> <marker>          before Library.add()
    DOC <name> <doc id> <marker>      after Library.add() returned: the document was reported as indexed

It stops by itself after SECONDS (default 60) and at most MAX_TURNS turns per channel.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

from bot.chat import TurnIn
from bot.config import load_settings
from bot.services import Services
from index.library import Where

CHANNELS = 50
GUILDS = 5
BASE = 1_300_000_000_000_000_000
MAX_TURNS = 10_000
MAX_DOCS = 1_000
DOC_WORKERS = 2
HANDBOOK = "handbook.md"
_FILLER_TEXT = (
    "the team ships a release every second week after review and a test run on staging while the "
    "database migration waits for a quiet hour and the on call engineer watches the dashboards"
)
_FILLER = _FILLER_TEXT.split()


def channel_id(c: int) -> int:
    """The id of channel number c."""
    return BASE + 1_000 + c


def guild_id(c: int) -> int:
    """The server of channel number c."""
    return BASE + c % GUILDS


def user_text(c: int, run: int, n: int) -> str:
    """What the user says in turn n of a run in channel c (parsed back by the test)."""
    return f"ch={c} run={run} n={n} word{c}x"


def doc_marker(run: int, k: int) -> str:
    """The unique word of document k of a run."""
    return f"dmk{run}x{k}q"


def doc_text(run: int, k: int, paragraphs: int) -> str:
    """A Markdown document: a first section with the marker sentence, paragraphs of filler, an end word."""
    rng = random.Random(run * 100_003 + k)
    body = [" ".join(rng.choice(_FILLER) for _ in range(60)) + "." for _ in range(paragraphs)]
    end = f"That is all, {doc_end(run, k)}."
    return f"# Notes {k}\n\n{marker_sentence(run, k)}\n\n## Details\n\n" + "\n\n".join([*body, end])


def doc_end(run: int, k: int) -> str:
    """The word of document k's last sentence: found only if the whole document was indexed."""
    return f"zend{run}x{k}q"


def marker_sentence(run: int, k: int) -> str:
    """The sentence that names document k of a run (a query for it)."""
    return f"The code name is {doc_marker(run, k)} for this document."


def say(line: str) -> None:
    """One line to the test, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def chat_loop(services: Services, c: int, run: int, deadline: float) -> None:
    """Turns in one channel, one after another, each acknowledged once its reply is stored."""
    for n in range(MAX_TURNS):
        if time.monotonic() > deadline:
            return
        turn = TurnIn(
            channel_id=channel_id(c),
            guild_id=guild_id(c),
            author_id=10 + c,
            author_name=f"user{c}",
            content=user_text(c, run, n),
        )
        await services.chat.reply(turn)
        say(f"ACK {c} {run} {n}")


async def doc_loop(services: Services, worker: int, run: int, deadline: float) -> None:
    """Documents of varied sizes (up to two embedding batches), every third one replacing the handbook."""
    rng = random.Random(run * 7 + worker)
    for i in range(MAX_DOCS):
        if time.monotonic() > deadline:
            return
        k = i * DOC_WORKERS + worker
        name = HANDBOOK if worker == 0 and i % 3 == 2 else f"doc-{run}-{k}.md"
        text = doc_text(run, k, rng.choice((1, 4, 30, 120)))
        say(f"DOCSTART {name} {doc_marker(run, k)}")
        result = await services.library.add(
            text.encode(),
            name,
            Where(guild_id(0), channel_id(0), 10),
            uploader_id=10,
            uploader_name="user0",
        )
        say(f"DOC {name} {result.record.id} {doc_marker(run, k)}")


async def main(run: int, seconds: float) -> None:
    """Start the core on DATA_DIR, recover, and drive it until the deadline."""
    settings = load_settings(require_discord=False, env_file=None)
    services = await Services.create(settings)
    try:
        say("STARTING")
        # The parse worker's first start imports the parsers: seconds, and several more under the chat load.
        # Warmed up during the recovery, it lets documents be indexed (and cut off) from the load's first
        # second, so that the test's kills can land after an acknowledged document or in the middle of one.
        warm = asyncio.create_task(services.library.worker.run("warm-up", os.getpid))
        await services.start()
        await warm
        say("READY")
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(chat_loop(services, c, run, deadline) for c in range(CHANNELS)),
            *(doc_loop(services, w, run, deadline) for w in range(DOC_WORKERS)),
        )
        say("DONE")
    finally:
        await services.aclose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 60.0))
