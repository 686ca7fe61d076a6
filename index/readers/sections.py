"""Sections from headings (Markdown, HTML, DOCX): body text grouped under its heading path."""

from __future__ import annotations

import re

from llama_index.core.schema import Document

from index.readers.common import tidy

MAX_HEADING_CHARS = 100
MAX_SECTION_CHARS = 300

Block = tuple[int | None, str]  # (heading level or None for body text, text)


def sections(blocks: list[Block], *, title: str = "") -> list[Document]:
    """Group blocks under their heading path ("Guide > Install"); the heading opens its section's text."""
    documents: list[Document] = []
    stack: list[tuple[int, str]] = []
    path = title[:MAX_HEADING_CHARS]
    body: list[str] = []
    has_body = False

    def flush() -> None:
        text = tidy("\n\n".join(body))
        if has_body and text:
            documents.append(Document(text=text, metadata={"section": path} if path else {}))

    for level, text in blocks:
        if not text.strip():
            continue
        if level is None:
            body.append(text.strip("\n").rstrip())
            has_body = True
            continue
        flush()
        heading = re.sub(r"\s+", " ", text).strip()[:MAX_HEADING_CHARS]
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        path = " > ".join(h for _, h in stack)[-MAX_SECTION_CHARS:]
        body, has_body = [heading], False
    flush()
    return documents
