"""HTML: the page's readable text as sections, without scripts, styles, navigation or site chrome."""

from __future__ import annotations

import re

from bs4 import (
    BeautifulSoup,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
    Tag,
)

from index.boilerplate import drop_chrome
from index.readers.common import ParsedDocument, decode
from index.readers.sections import Block, sections

_DROP_TAGS = (
    "script", "style", "noscript", "template", "nav", "aside", "iframe", "svg", "canvas", "button",
    "select", "object", "embed", "head", "menu", "dialog",
)
_DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar", "toolbar", "dialog"}
_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "blockquote", "pre", "ul", "ol", "dl",
    "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "address", "details",
    "summary", "hr", "caption", "body", "html", "center",
})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CHARSET_ALIASES = {
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decode_html(data: bytes) -> tuple[str, str]:
    # Valid UTF-8 wins over a declared charset: pages saved as UTF-8 often keep an old "iso-8859-1" tag.
    declared = _CHARSET.search(data[:4096])
    if declared and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        encoding = declared.group(1).decode("ascii").lower()
        encoding = _CHARSET_ALIASES.get(encoding, encoding)
        try:
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data)


def _last_descendant(tag: Tag) -> PageElement:
    last: PageElement = tag
    while isinstance(last, Tag) and last.contents:
        last = last.contents[-1]
    return last


def html_blocks(html: str, *, drop_link_lists: bool = True) -> tuple[list[Block], str]:
    """Readable text of an HTML page as heading and body blocks, without scripts, styles or navigation
    (menus, tables of contents, link lists); returns the page title too."""
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or t.get("aria-hidden") == "true"
                             or str(t.get("role", "")).lower() in _DROP_ROLES):
        tag.decompose()
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    root = main or soup.body or soup
    if main is None:
        # Outside <main>, page headers and footers are site chrome; inside an article they are content.
        for tag in root.find_all(("header", "footer")):
            if tag.find_parent(("article", "main")) is None:
                tag.decompose()
    if drop_link_lists:
        drop_chrome(root)

    blocks: list[Block] = []
    parts: list[str] = []
    skip_until: object = None
    pre_until: object = None

    def newline() -> None:
        if parts:
            parts[-1] = parts[-1].rstrip(" ")
        parts.append("\n")

    def flush() -> None:
        text = "".join(parts)
        text = re.sub(r"(?m)^ ?\| ", "", text)
        if text.strip():
            blocks.append((None, text))
        parts.clear()

    for element in root.descendants:
        if skip_until is not None:
            if element is skip_until:
                skip_until = None
            continue
        in_pre = pre_until is not None
        if element is pre_until:
            pre_until = None
        if isinstance(element, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if isinstance(element, NavigableString):
            text = str(element)
            if not in_pre:
                text = re.sub(r"\s+", " ", text)
                if not parts or parts[-1].endswith("\n"):
                    text = text.lstrip(" ")
            parts.append(text)
            continue
        if not isinstance(element, Tag):
            continue
        if element.name in _HEADINGS:
            flush()
            blocks.append((_HEADINGS[element.name], element.get_text(" ", strip=True)))
            last = _last_descendant(element)
            skip_until = last if last is not element else None
        elif element.name == "br":
            newline()
        elif element.name in ("td", "th"):
            parts.append(" | ")
        elif element.name == "li":
            newline()
            parts.append("- ")
        elif element.name == "img" and element.get("alt"):
            parts.append(f" {element['alt']} ")
        elif element.name in _BLOCK_TAGS:
            newline()
            last = _last_descendant(element) if element.name == "pre" else element
            if last is not element:
                pre_until = last
    flush()
    return blocks, title


def parse_html(data: bytes, filename: str) -> ParsedDocument:
    """An HTML page's readable text as sections under its headings, titled from <title>."""
    text, encoding = _decode_html(data)
    blocks, title = html_blocks(text)
    if not any(level is None and body.strip() for level, body in blocks):
        blocks, title = html_blocks(text, drop_link_lists=False)  # a page that is only links: keep them
    return ParsedDocument("html", sections(blocks, title=title), encoding=encoding)
