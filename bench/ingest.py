"""A 300-page PDF through the whole upload pipeline: pages per second and the longest event-loop stall.

Run by hand from the checkout (not a test):

    /work/venv/bin/python bench/ingest.py [--pages 300] [--runs 3]

The product (Library.add: parse and chunk in a thread, embeddings in batches of 64, four at a time)
runs against the fake OpenAI server on 127.0.0.1. Pages per second excludes the time the pipeline
spent waiting on embeddings (any batch in flight). A probe task sleeps 5 ms in a loop and records how
late it wakes: the longest lateness is the longest stall of the event loop, which in the bot is also
how long the Discord heartbeat could be held up. The baseline, measured in the same run on the same
file, is the naive pipeline that parses and chunks on the event loop itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.llm import LLM, Who
from bot.services import Services
from index.chunking import chunk_document
from index.ingest import parse_document
from index.library import Where
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.index.builders import make_pdf

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
    args = parser.parse_args()
    data = pdf_pages(args.pages, salt=-1)
    print(f"PDF: {args.pages} pages, {len(data) / 1024:.0f} KB")
    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp) / "data", server.base_url)
        services = await Services.create(settings)
        rates, stalls = [], []
        for n in range(args.runs):
            elapsed, waiting, stall, chunks = await product_run(services, pdf_pages(args.pages, n), n)
            rate = args.pages / max(elapsed - waiting, 1e-9)
            rates.append(rate)
            stalls.append(stall)
            print(
                f"product run {n + 1}: {elapsed:.2f} s total, {waiting:.2f} s waiting on embeddings, "
                f"{chunks} chunks -> {rate:.0f} pages/s; longest loop stall {stall * 1000:.1f} ms"
            )
        naive_time, naive_stall = await naive_run(data, services.llm)
        naive_rate = args.pages / naive_time
        print(
            f"naive (parse on the loop): {naive_rate:.0f} pages/s; "
            f"longest loop stall {naive_stall * 1000:.0f} ms"
        )
        await services.aclose()
    rate, stall = statistics.median(rates), max(stalls)
    print(
        f"product median {rate:.0f} pages/s (goal >= {GOAL_PAGES_PER_S}); "
        f"worst stall {stall * 1000:.1f} ms (goal <= {GOAL_STALL_MS} ms)"
    )
    print(f"ratio naive stall / product stall: {naive_stall / max(stall, 1e-6):.0f}x; "
          f"product pages/s / naive pages/s: {rate / naive_rate:.2f}x")
    ok = rate >= GOAL_PAGES_PER_S and stall * 1000 <= GOAL_STALL_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
