"""A 300-page PDF through the whole upload pipeline: pages per second and the longest event-loop stall.

Run by hand from the checkout (not a test):

    .venv/bin/python bench/ingest.py [--pages 300] [--runs 3]

The product (Library.add: parse and chunk in the worker process of index/worker.py, embeddings in
batches of 64, four at a time) runs against the fake OpenAI server on 127.0.0.1, which runs in a process
of its own so its work does not compete with the measured loop for the GIL. Pages per second excludes
the time the pipeline spent waiting on embeddings (any batch in flight). A probe task sleeps 5 ms in a
loop and records how late it wakes: the longest lateness is the longest stall of the event loop, which
in the bot is also how long the Discord heartbeat could be held up. The first upload starts the worker
and is reported on its own (its stall counts towards the goal). Measured in the same run, alternating
with the product's runs on files of the same size: the baseline, the same Library.add with parse and
chunk in a thread of the bot's own process (the pipeline before the worker process); and the naive
pipeline that parses and chunks on the event loop itself.
"""

from __future__ import annotations

import argparse
import asyncio
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.llm import LLM, Who
from bot.services import Services
from index.chunking import chunk_document
from index.ingest import parse_document
from index.library import Where
from tests.conftest import make_settings
from tests.index.builders import make_pdf

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

GOAL_PAGES_PER_S = 50
GOAL_STALL_MS = 100


def pdf_pages(count: int, salt: int = 0) -> bytes:
    """A PDF of `count` pages of varied prose (a line per sentence); `salt` makes each run's file new."""
    pages = []
    for p in range(count):
        lines = [
            f"Section {p}.{i}: the service stores record {p * 40 + i + salt} in region {i % 7}."
            for i in range(35)
        ]
        pages.append("\n".join(lines))
    return make_pdf(pages)


def serve_model() -> None:
    """Child process: serve the fake model, print its URL, stop when the parent closes stdin."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        print(fake.base_url, flush=True)
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if ready and not sys.stdin.readline():
                return


def start_model() -> tuple[subprocess.Popen[str], str]:
    """Start the fake model process; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-model"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


class ThreadWorker:
    """The baseline: ParseWorker's interface, running the job in a thread of this process."""

    async def run(self, filename: str, job: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """Run the job in a thread."""
        return await asyncio.to_thread(job, *args, **kwargs)

    async def aclose(self) -> None:
        """Nothing to stop."""


class LoopProbe:
    """Measures how late a 5 ms sleep wakes up, i.e. event-loop stalls."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - start - 0.005)

    def __enter__(self) -> LoopProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class EmbedClock:
    """Wraps LLM.embed to total the wall time during which at least one embedding batch is in flight."""

    def __init__(self, llm: LLM) -> None:
        self.busy = 0.0
        self._in_flight = 0
        self._since = 0.0
        self._embed = llm.embed
        llm.embed = self.embed  # type: ignore[method-assign]

    async def embed(self, texts: list[str], **kwargs: object) -> list[list[float]]:
        """The real embed call, timed."""
        if self._in_flight == 0:
            self._since = time.perf_counter()
        self._in_flight += 1
        try:
            return await self._embed(texts, **kwargs)  # type: ignore[arg-type]
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.busy += time.perf_counter() - self._since


async def product_run(services: Services, data: bytes, n: int) -> tuple[float, float, float, int]:
    """One upload through Library.add: (seconds, seconds waiting on embeddings, worst stall, chunks)."""
    clock = EmbedClock(services.llm)
    with LoopProbe() as probe:
        started = time.perf_counter()
        result = await services.library.add(
            data, f"manual-{n}.pdf", Where(1, 10, 7), uploader_id=7, uploader_name="bench"
        )
        elapsed = time.perf_counter() - started
    services.llm.embed = clock._embed  # type: ignore[method-assign]
    return elapsed, clock.busy, probe.worst, result.record.chunks


async def naive_run(data: bytes, llm: LLM) -> tuple[float, float]:
    """Parse and chunk on the event loop (the baseline): (seconds excluding embeddings, worst stall)."""
    with LoopProbe() as probe:
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        parsed = parse_document(data, "manual.pdf")
        nodes = chunk_document(parsed, doc_id="naive", filename="manual.pdf")
        elapsed = time.perf_counter() - started
        for i in range(0, len(nodes), 64):
            await llm.embed([n.get_content() for n in nodes[i : i + 64]], who=Who(1, 7, "bench"))
        await asyncio.sleep(0.01)
    return elapsed, probe.worst


async def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_model:
        serve_model()
        return 0
    data = pdf_pages(args.pages, salt=-1)
    print(f"PDF: {args.pages} pages, {len(data) / 1024:.0f} KB; fake model in process of its own")
    model, base_url = start_model()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            services = await Services.create(make_settings(Path(tmp) / "data", base_url))
            try:
                return await compare(services, data, args.pages, args.runs)
            finally:
                await services.aclose()
    finally:
        assert model.stdin is not None
        model.stdin.close()
        model.wait(10)


async def compare(services: Services, data: bytes, pages: int, runs: int) -> int:
    """The product (worker process) against the in-thread baseline and the naive pipeline; prints it all."""
    library, process = services.library, services.library.worker
    elapsed, waiting, cold_stall, chunks = await product_run(services, pdf_pages(pages, 1000), 1000)
    print(f"first upload (starts the worker): {elapsed:.2f} s total, {waiting:.2f} s waiting on embeddings, "
          f"{chunks} chunks; longest loop stall {cold_stall * 1000:.1f} ms")
    figures: dict[str, tuple[list[float], list[float]]] = {"process": ([], []), "thread": ([], [])}
    for n in range(runs):
        for mode, worker in (("process", process), ("thread", ThreadWorker())):
            library.worker = worker  # type: ignore[assignment]
            salt = n if mode == "process" else 2000 + n
            elapsed, waiting, stall, chunks = await product_run(services, pdf_pages(pages, salt), salt)
            rate = pages / max(elapsed - waiting, 1e-9)
            figures[mode][0].append(rate)
            figures[mode][1].append(stall)
            print(
                f"{mode:>7} run {n + 1}: {elapsed:.2f} s total, {waiting:.2f} s waiting on embeddings, "
                f"{chunks} chunks -> {rate:.0f} pages/s; longest loop stall {stall * 1000:.1f} ms"
            )
    library.worker = process
    naive_time, naive_stall = await naive_run(data, services.llm)
    naive_rate = pages / naive_time
    print(f"  naive (parse on the loop): {naive_rate:.0f} pages/s; "
          f"longest loop stall {naive_stall * 1000:.0f} ms")
    rate, stall = statistics.median(figures["process"][0]), max([cold_stall, *figures["process"][1]])
    thread_rate, thread_stall = statistics.median(figures["thread"][0]), max(figures["thread"][1])
    print(
        f"product (worker process): median {rate:.0f} pages/s (goal >= {GOAL_PAGES_PER_S}); "
        f"worst stall {stall * 1000:.1f} ms (goal <= {GOAL_STALL_MS} ms)"
    )
    print(f"baseline (in-thread):     median {thread_rate:.0f} pages/s; "
          f"worst stall {thread_stall * 1000:.1f} ms")
    print(
        f"ratios: in-thread stall / process stall {thread_stall / max(stall, 1e-6):.1f}x, "
        f"naive stall / process stall {naive_stall / max(stall, 1e-6):.0f}x; "
        f"process pages/s / in-thread {rate / thread_rate:.2f}x, / naive {rate / naive_rate:.2f}x"
    )
    ok = rate >= GOAL_PAGES_PER_S and stall * 1000 <= GOAL_STALL_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
