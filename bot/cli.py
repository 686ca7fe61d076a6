"""`teambot ingest` and `teambot ask`: the documents pipeline from a terminal, same code as the cogs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.config import Settings
from bot.errors import UserError
from bot.llm import Who
from bot.services import Services
from index.where import Where

CLI_USER_ID = 0


def files_under(paths: Iterable[str]) -> Iterator[Path]:
    """Every file named, and every file inside the folders named (hidden ones skipped)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(
                    part.startswith(".") for part in child.relative_to(path).parts
                ):
                    yield child
        else:
            yield path


def bar(done: int, total: int, width: int = 30) -> str:
    """A text progress bar."""
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


async def ingest(settings: Settings, paths: list[str], guild: int, channel: int | None, uploader: str) -> int:
    """Index files for a server (or one channel); prints a line per file; 1 if any failed."""
    services = await Services.create(settings)
    await services.start()
    files = list(files_under(paths))
    where = Where(guild, channel or 0, CLI_USER_ID)
    failed = 0
    try:
        for number, path in enumerate(files, start=1):
            print(
                f"\r{bar(number - 1, len(files))} {path.name[:40]:<40}", end="", file=sys.stderr, flush=True
            )
            try:
                result = await services.library.add(
                    await asyncio.to_thread(path.read_bytes),
                    path.name,
                    where,
                    uploader_id=CLI_USER_ID,
                    uploader_name=uploader,
                    scope="channel" if channel else "server",
                )
                line = f"ok    {path}: {result.status}, {result.record.chunks} chunks"
            except (UserError, OSError) as exc:
                failed += 1
                line = f"FAIL  {path}: {exc}"
            print(f"\r{' ' * 80}\r{line}", file=sys.stderr)
        print(bar(len(files), len(files)), file=sys.stderr)
    finally:
        await services.aclose()
    return 1 if failed else 0


async def ask(settings: Settings, question: str, guild: int, channel: int | None) -> int:
    """Print a cited answer from a server's documents."""
    services = await Services.create(settings)
    try:
        where = Where(guild, channel or 0, CLI_USER_ID)
        answer = await services.answerer.answer(question, where, who=Who(guild, CLI_USER_ID, "ask"))
    except UserError as exc:
        print(f"teambot: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.aclose()
    print(answer.text)
    for source in answer.sources:
        where_in = f" ({source.location})" if source.location else ""
        print(f"  [{source.number}] {source.filename}{where_in}: {source.excerpt}")
    return 0 if answer.found else 1
