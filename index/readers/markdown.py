"""Markdown: headings found here (fence-aware, ATX and setext), links and inline HTML reduced to text."""

from __future__ import annotations

import re

from index.readers.common import ParsedDocument, decode
from index.readers.sections import Block, sections

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*([-*+>]|\d+[.)])\s")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")


def _clean_markdown_line(line: str) -> str:
    """Links and images become their text and inline HTML tags go, except inside `code`."""
    parts: list[str] = []
    last = 0
    for match in _INLINE_CODE.finditer(line):
        parts.append(_clean_markdown_prose(line[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_clean_markdown_prose(line[last:]))
    return "".join(parts)


def _clean_markdown_prose(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    return _HTML_TAG.sub("", text)


def markdown_blocks(text: str) -> tuple[list[Block], str]:
    """Split Markdown into heading and body blocks (fence-aware, ATX and setext headings); returns the title
    from YAML front matter too."""
    title = ""
    front = re.match(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", text, re.DOTALL)
    if front:
        found = re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", front.group(1), re.MULTILINE)
        title = found.group(1) if found else ""
        text = text[front.end() :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    blocks: list[Block] = []
    paragraph: list[str] = []
    fence = ""

    def flush() -> None:
        if paragraph:
            blocks.append((None, "\n".join(paragraph)))
            paragraph.clear()

    for line in text.split("\n"):
        if fence:
            paragraph.append(line)
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            paragraph.append(line)
            continue
        heading = _ATX.match(line)
        if heading:
            flush()
            blocks.append((len(heading.group(1)), _clean_markdown_line(heading.group(2) or "")))
            continue
        underline = _SETEXT.match(line)
        # "Text\n---" is a heading only under a short plain paragraph; after a list item it is a rule.
        if underline and 0 < len(paragraph) <= 3 and not _LIST_ITEM.match(paragraph[0]):
            blocks.append((1 if underline.group(1)[0] == "=" else 2, " ".join(p.strip() for p in paragraph)))
            paragraph.clear()
            continue
        if not line.strip():
            flush()
            continue
        if _LINK_DEFINITION.match(line):
            continue
        paragraph.append(_clean_markdown_line(line.rstrip()))
    flush()
    return blocks, title


def parse_markdown(data: bytes, filename: str) -> ParsedDocument:
    """Markdown as sections under their heading paths, titled from YAML front matter."""
    # MarkdownReader (llama-index-readers-file 0.7) files text under the wrong heading when a deeper heading
    # follows, ignores ~~~ fences and strips indentation, so headings are found here instead.
    text, encoding = decode(data)
    blocks, title = markdown_blocks(text.replace("\r\n", "\n").replace("\r", "\n"))
    return ParsedDocument("markdown", sections(blocks, title=title), encoding=encoding)
