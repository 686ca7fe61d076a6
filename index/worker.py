"""Parsing and chunking in a worker process, so pypdf and the tokenizer never hold the bot's GIL.

One worker, created on first use from a forkserver that has already imported the parsers, runs one job
at a time. A job returns plain data (`Prepared`: strings, numbers, small dicts) that unpickles quickly;
the parent rebuilds LlamaIndex nodes from it. Refusals (UserError) cross the process boundary intact.
A worker that dies (a parser crash, the kernel's OOM killer) or overruns its time costs only the file it
was reading: that upload gets a clear refusal and the next job gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from llama_index.core.schema import TextNode

from bot.errors import UserError
from bot.files import safe_filename
from bot.tokens import ensure_tiktoken_offline, get_encoding
from index.chunking import chunk_document, embedding_plan, text_node

log = logging.getLogger(__name__)

T = TypeVar("T")
# Far above a legitimate file (a 300-page PDF takes ~2 s; the 25 MB limit bounds the rest); a parser
# looping on a hostile file must not hold the only worker, and every later upload, forever.
JOB_TIMEOUT = 300.0
STOP_GRACE = 2.0
WORKER_NICENESS = 10
# A forkserver imports the parsers once; each new worker is a fork of it, ready in milliseconds.
_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

Chunk = tuple[str, str, dict[str, Any]]  # (node id, text, metadata)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed and chunked upload as plain data, with the texts to embed and the chunk each belongs to."""

    kind: str
    pages: int | None
    doc_id: str
    chunks: list[Chunk]
    texts: list[str]
    owner: list[int]


def prepare(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    doc_id: str,
    extra: Mapping[str, object],
    chunk_tokens: int,
    overlap: int,
    embed_tokens: int | None,
) -> Prepared:
    """Parse, chunk and plan the embeddings of one upload (the job a worker runs)."""
    from index.ingest import parse_document  # the parsers (pypdf, bs4) load in the worker, not the bot

    parsed = parse_document(data, filename, max_bytes=max_bytes)
    nodes = chunk_document(
        parsed,
        doc_id=doc_id,
        filename=safe_filename(filename),
        extra_metadata=extra,
        chunk_tokens=chunk_tokens,
        overlap=overlap,
    )
    texts, owner = embedding_plan(nodes, embed_tokens)
    chunks = [(node.node_id, node.text, node.metadata) for node in nodes]
    return Prepared(parsed.kind, parsed.pages, doc_id, chunks, texts, owner)


def nodes_of(prepared: Prepared) -> list[TextNode]:
    """The TextNodes a job's chunks stand for, as chunk_document built them in the worker."""
    return [text_node(prepared.doc_id, id_, text, metadata) for id_, text, metadata in prepared.chunks]


def worker_died(name: str) -> UserError:
    """The refusal for a file whose reader crashed or ran out of memory."""
    return UserError(
        "I couldn't open '{name}': reading it crashed the document reader, so the file is probably "
        "damaged or built to be unreadable. If it opens on your computer, save or export it again "
        "and upload that.",
        kind="corrupt",
        params={"name": name},
    )


def too_slow(name: str, seconds: float) -> UserError:
    """The refusal for a file that takes longer to read than any genuine document should."""
    return UserError(
        "I stopped reading '{name}' after {seconds} seconds: it takes far longer than a normal document, "
        "so it may be damaged. Save it again (or split it into smaller files) and upload that.",
        kind="timeout",
        params={"name": name, "seconds": round(seconds)},
    )


def shut_down(name: str) -> UserError:
    """The refusal for a file whose reading was cut off by the bot stopping."""
    return UserError(
        "I stopped reading '{name}' because I'm restarting. Upload it again in a minute.",
        kind="unavailable",
        params={"name": name},
    )


class ParseWorker:
    """A lazily started one-process pool that runs one job at a time and replaces itself when it breaks."""

    def __init__(self, *, timeout: float = JOB_TIMEOUT, method: str = _METHOD) -> None:
        self.timeout = timeout
        self.busy = False
        self._method = method
        self._pool: ProcessPoolExecutor | None = None
        self._turn = asyncio.Lock()
        self._closed = False

    async def run(self, filename: str, job: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """Run `job(*args, **kwargs)` in the worker; a crash or an overrun is refused for `filename`."""
        name = safe_filename(filename)
        # One job at a time: a crash or a kill then fails only the file that caused it, and the
        # timeout counts the job's own time, not time spent queued behind another upload.
        async with self._turn:
            pool = await self._ready_pool()
            call = functools.partial(job, *args, **kwargs)
            self.busy = True
            try:
                return await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(pool, call), self.timeout
                )
            except BrokenProcessPool:
                if self._closed:  # stopped by aclose(), not by the file
                    raise shut_down(name) from None
                log.warning("the document worker died reading %r; starting a new one", name)
                self._discard(pool)
                raise worker_died(name) from None
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if (task is not None and task.cancelling()) or not self._closed:
                    raise
                raise shut_down(name) from None  # aclose() cancelled the job before the worker took it
            except TimeoutError:
                log.warning("reading %r took over %.0f s; stopping the document worker", name, self.timeout)
                self._discard(pool)
                raise too_slow(name, self.timeout) from None
            finally:
                self.busy = False

    def pids(self) -> list[int]:
        """Process ids of the live worker (empty before first use); for tests and diagnostics."""
        return [p.pid for p in _processes(self._pool) if p.pid is not None and p.is_alive()]

    async def aclose(self) -> None:
        """Stop the worker: an idle one exits at once, a busy one gets a moment and is then killed."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_stop, pool)

    async def _ready_pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("the document worker is closed")
        pool = self._pool
        # A worker that died between jobs (e.g. killed by the OOM killer) costs no upload: start afresh.
        if pool is not None and any(not p.is_alive() for p in _processes(pool)):
            self._discard(pool)
            pool = None
        if pool is None:
            context = multiprocessing.get_context(self._method)
            if self._method == "forkserver":
                context.set_forkserver_preload([__name__, "index.ingest"])
            pool = self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start)
            # Starting a worker waits for it to be forked, and the first time for the forkserver to import
            # the parsers (seconds): in a thread, or the first upload would freeze the bot that long.
            try:
                await asyncio.wrap_future(await asyncio.to_thread(pool.submit, os.getpid))
            except BrokenProcessPool:
                self._discard(pool)
                raise
        return pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken or overrunning pool, killing its worker so nothing keeps running."""
        if self._pool is pool:
            self._pool = None
        for process in _processes(pool):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)


def _processes(pool: ProcessPoolExecutor | None) -> list[BaseProcess]:
    # Python 3.11 has no public way to reach or kill a pool's workers (3.14 adds kill_workers()).
    return list((getattr(pool, "_processes", None) or {}).values())


def _start() -> None:
    """Worker start-up: exit with the bot, yield the CPU to it, and load the token tables and parsers now."""
    # On a busy machine the bot's event loop, not a parse, should get the next free core.
    os.nice(WORKER_NICENESS)
    # A worker holds both ends of its queues' pipes, so a bot killed with SIGKILL would leave it blocked
    # forever (keeping the forkserver and the bot's stdout open): it watches the bot itself.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="exit-with-bot", daemon=True).start()
    ensure_tiktoken_offline()
    get_encoding()
    import index.ingest  # noqa: F401 - the parsers, before the first job (a forkserver preloaded them)


def _exit_with(parent: BaseProcess) -> None:
    parent.join()
    os._exit(1)


def _stop(pool: ProcessPoolExecutor) -> None:
    processes = _processes(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(STOP_GRACE)
        if process.is_alive():
            process.kill()
            process.join(STOP_GRACE)
    pool.shutdown(wait=True)
