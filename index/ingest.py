"""Documents in: bytes and a file name → LlamaIndex Documents → nodes with small, filterable metadata.

Everything here is synchronous and CPU-bound: the bot runs it in a worker process (index/worker.py).
This module detects a file's kind and dispatches to its reader in index/readers/.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import UserError
from bot.files import safe_filename, sniff_kind, too_large
from index.readers.archive import ZIP_MAX_ENTRIES, ZIP_MAX_RATIO, ZIP_MAX_TOTAL, ZIP_RATIO_FLOOR
from index.readers.common import ParsedDocument
from index.readers.csv import CSV_ROWS_PER_SECTION, MAX_COLUMNS, parse_csv
from index.readers.docx import parse_docx
from index.readers.html import html_blocks, parse_html
from index.readers.markdown import markdown_blocks, parse_markdown
from index.readers.pdf import parse_pdf
from index.readers.sections import MAX_HEADING_CHARS, MAX_SECTION_CHARS, Block
from index.readers.text import parse_code, parse_text

__all__ = [
    "CSV_ROWS_PER_SECTION",
    "KINDS",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "MAX_HEADING_CHARS",
    "MAX_SECTION_CHARS",
    "ZIP_MAX_ENTRIES",
    "ZIP_MAX_RATIO",
    "ZIP_MAX_TOTAL",
    "ZIP_RATIO_FLOOR",
    "Block",
    "ParsedDocument",
    "html_blocks",
    "markdown_blocks",
    "parse_document",
    "too_large",
]

MAX_BYTES = 25 * 1024 * 1024

KINDS = ("pdf", "docx", "markdown", "html", "csv", "code", "text")


# ---------------------------------------------------------------------------------------------- refusals


def _empty(name: str, kind: str) -> UserError:
    if kind == "pdf":
        return UserError(
            "'{name}' has no text I can read: it looks like a scanned document (pictures of pages). "
            "Run it through OCR (text recognition, e.g. in Adobe Acrobat or your scanner's app) "
            "and upload the result.",
            kind="empty",
            params={"name": name},
        )
    return UserError(
        "'{name}' has no text in it, so there is nothing to index.", kind="empty", params={"name": name}
    )


# ------------------------------------------------------------------------------------------------ parse


def parse_document(data: bytes, filename: str, *, max_bytes: int = MAX_BYTES) -> ParsedDocument:
    """Parse an upload into sections (LlamaIndex Documents); every refusal is a UserError with a kind."""
    data = bytes(data)
    name = safe_filename(filename)
    if len(data) > max_bytes:
        raise too_large(name, len(data), max_bytes)
    if not data:
        raise UserError("'{name}' is empty (0 bytes).", kind="empty", params={"name": name})
    try:
        kind = sniff_kind(data, filename)
        parsed = _PARSERS[kind](data, filename)
    except UserError as error:
        if f"'{name}'" in error.message:
            raise
        raise UserError(
            "'{name}': {reason}", kind=error.kind, params={"name": name, "reason": error}
        ) from error
    except RecursionError:
        raise UserError(
            "I couldn't read '{name}': its structure is nested too deeply. Save it in a simpler form "
            "(for example as plain text or PDF) and upload that.",
            kind="corrupt",
            params={"name": name},
        ) from None
    if not any(section.text.strip() for section in parsed.sections):
        raise _empty(name, parsed.kind)
    return parsed


_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "markdown": parse_markdown,
    "html": parse_html,
    "csv": parse_csv,
    "code": parse_code,
    "text": parse_text,
}
assert set(_PARSERS) == set(KINDS)
