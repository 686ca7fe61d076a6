"""CSV and TSV: rows as "column: value" records, grouped into sections of rows."""

from __future__ import annotations

import csv
import io

from llama_index.core.schema import Document

from bot.errors import UserError
from bot.files import extension, safe_filename
from bot.i18n import Msg
from index.readers.common import ParsedDocument, corrupt, decode, tidy

MAX_COLUMNS = 10_000
CSV_ROWS_PER_SECTION = 100


def _delimiter(sample: str, filename: str) -> str:
    if extension(filename) == ".tsv":
        return "\t"
    lines = [line for line in sample.split("\n")[:10] if line.strip()]
    best, best_score = ",", 0
    for candidate in (",", ";", "\t", "|"):
        counts = [line.count(candidate) for line in lines]
        if counts and min(counts) > 0:
            # A delimiter found the same number of times on every line beats one found more often.
            score = min(counts) * (2 if len(set(counts)) == 1 else 1)
            if score > best_score:
                best, best_score = candidate, score
    return best


def _too_many_columns(name: str, columns: int) -> UserError:
    return UserError(
        "'{name}' has {columns:,} columns; I can index at most {limit:,}. "
        "Check that it really is a CSV table, or split it into smaller tables.",
        kind="too_many_columns",
        params={"name": name, "columns": columns, "limit": MAX_COLUMNS},
    )


def parse_csv(data: bytes, filename: str) -> ParsedDocument:
    """A CSV or TSV table as sections of rows, each cell labelled with its column header."""
    name = safe_filename(filename)
    text, encoding = decode(data)
    first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = _delimiter(text[:65536], filename)
    # Count before parsing: a header of a million cells is refused without building a million strings.
    if first_line.count(delimiter) + 1 > MAX_COLUMNS:
        raise _too_many_columns(name, first_line.count(delimiter) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    sections: list[Document] = []
    try:
        header = next(reader, [])
        header = [" ".join(h.split()) or f"column {i + 1}" for i, h in enumerate(header)]
        records: list[str] = []
        first_row = row_number = 2
        for row_number, row in enumerate(reader, start=2):
            if len(row) > MAX_COLUMNS:
                raise _too_many_columns(name, len(row))
            # A cell's own line breaks would blur the record boundaries ("\n\n") that chunking relies on.
            cells = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {' '.join(value.split())}"
                for i, value in enumerate(row)
                if value.strip()
            ]
            if cells:
                records.append(f"Row {row_number}\n" + "\n".join(cells))
            if len(records) >= CSV_ROWS_PER_SECTION:
                sections.append(_csv_section(records, first_row, row_number))
                records, first_row = [], row_number + 1
        if records:
            sections.append(_csv_section(records, first_row, row_number))
    except csv.Error:
        raise corrupt(name, "CSV", Msg("line {line} could not be read", line=reader.line_num)) from None
    if not sections and header:
        sections.append(Document(text=tidy("Columns: " + ", ".join(header)), metadata={"section": "header"}))
    return ParsedDocument("csv", sections, encoding=encoding)


def _csv_section(records: list[str], first: int, last: int) -> Document:
    return Document(text="\n\n".join(records), metadata={"section": f"rows {first}-{last}"})
