"""Plain text and source code."""

from __future__ import annotations

from llama_index.core.schema import Document

from bot.files import code_language
from index.readers.common import BAD_CHARS, ParsedDocument, decode, tidy


def parse_text(data: bytes, filename: str) -> ParsedDocument:
    """Plain text as one tidied section."""
    text, encoding = decode(data)
    return ParsedDocument("text", [Document(text=tidy(text))], encoding=encoding)


def parse_code(data: bytes, filename: str) -> ParsedDocument:
    """Source code as one section that keeps its layout, tagged with its language."""
    text, encoding = decode(data)
    language = code_language(filename, text) or "text"
    # Code keeps its indentation and blank lines: only line ends and stray control bytes change.
    text = BAD_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n")
    return ParsedDocument(
        "code", [Document(text=text, metadata={"language": language})], language=language, encoding=encoding
    )
