"""Zip containers (DOCX) opened safely: declared sizes are checked before anything is expanded."""

from __future__ import annotations

import io
import zipfile
import zlib

from bot.errors import UserError
from bot.files import format_mb
from bot.i18n import Msg
from index.readers.common import corrupt

ZIP_MAX_RATIO = 100
ZIP_MAX_TOTAL = 200 * 1024 * 1024
# Below this much expanded data a high ratio is harmless (a short, repetitive document compresses well).
ZIP_RATIO_FLOOR = 5 * 1024 * 1024
ZIP_MAX_ENTRIES = 10_000

_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError
)


def zip_bomb(name: str, expanded: int) -> UserError:
    """The refusal for an archive that would expand far beyond any real document."""
    return UserError(
        "'{name}' would expand to {size} when opened, far more than a real document, "
        "so I won't open it. If it is a genuine document, save it again from Word and upload that.",
        kind="zip_bomb",
        params={"name": name, "size": format_mb(expanded)},
    )


def open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    """Open a zip after checking its declared sizes, so nothing is expanded before it is known safe."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except _ZIP_ERRORS:
        raise corrupt(name, "a Word document (.docx)") from None
    expanded = sum(member.file_size for member in members)
    if len(members) > ZIP_MAX_ENTRIES or expanded > ZIP_MAX_TOTAL or (
        expanded > ZIP_RATIO_FLOOR and expanded > ZIP_MAX_RATIO * len(data)
    ):
        raise zip_bomb(name, expanded)
    return archive


def read_member(archive: zipfile.ZipFile, member: str, name: str, archive_size: int) -> bytes:
    """A member's bytes, reading no more than the size limits allow even if the declared sizes lie."""
    limit = min(ZIP_MAX_TOTAL, max(ZIP_RATIO_FLOOR, ZIP_MAX_RATIO * archive_size))
    try:
        with archive.open(member) as stream:
            content = stream.read(limit + 1)
    except KeyError:
        raise corrupt(name, "a Word document (.docx)", Msg("{member} is missing", member=member)) from None
    except _ZIP_ERRORS:
        raise corrupt(name, "a Word document (.docx)") from None
    if len(content) > limit:
        raise zip_bomb(name, len(content))
    return content
