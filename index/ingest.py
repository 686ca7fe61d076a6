"""Documents in: bytes and a file name → LlamaIndex Documents → nodes with small, filterable metadata.

Everything here is synchronous and CPU-bound: the bot runs it in a worker process (index/worker.py).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pypdf
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
from llama_index.core.schema import Document
from pypdf.errors import DependencyError, FileNotDecryptedError

from bot.errors import UserError
from bot.files import (
    code_language,
    detect_and_decode,
    extension,
    format_mb,
    safe_filename,
    sniff_kind,
)
from bot.i18n import Msg
from index.boilerplate import drop_chrome

log = logging.getLogger(__name__)

MAX_BYTES = 25 * 1024 * 1024
MAX_COLUMNS = 10_000
ZIP_MAX_RATIO = 100
ZIP_MAX_TOTAL = 200 * 1024 * 1024
# Below this much expanded data a high ratio is harmless (a short, repetitive document compresses well).
ZIP_RATIO_FLOOR = 5 * 1024 * 1024
ZIP_MAX_ENTRIES = 10_000
CSV_ROWS_PER_SECTION = 100
MAX_HEADING_CHARS = 100
MAX_SECTION_CHARS = 300

KINDS = ("pdf", "docx", "markdown", "html", "csv", "code", "text")

_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError
)


@dataclass
class ParsedDocument:
    """A parsed upload: its kind, page count for PDFs, language for code, and its sections as Documents."""

    kind: str
    sections: list[Document] = field(default_factory=list)
    language: str | None = None
    pages: int | None = None
    encoding: str | None = None

    @property
    def chars(self) -> int:
        """Characters of text across all sections."""
        return sum(len(section.text) for section in self.sections)


# ---------------------------------------------------------------------------------------------- refusals


def too_large(name: str, size: int, limit: int) -> UserError:
    """The refusal for a file over the size limit."""
    return UserError(
        "'{name}' is {size}; the limit is {limit}. "
        "Split it into smaller files or remove images, then upload again.",
        kind="too_large",
        params={"name": name, "size": format_mb(size), "limit": format_mb(limit)},
    )


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


def _corrupt(name: str, what: str, detail: str = "") -> UserError:
    shown = Msg(" ({detail})", detail=Msg(detail)) if detail else ""
    return UserError(
        "I couldn't open '{name}': it looks damaged or incomplete{detail}. "
        "If it opens on your computer, save or export it as {what} again and upload that.",
        kind="corrupt",
        params={"name": name, "detail": shown, "what": Msg(what)},
    )


def _encrypted(name: str, what: str) -> UserError:
    return UserError(
        "'{name}' is a password-protected {what}: remove the password and upload it again.",
        kind="encrypted",
        params={"name": name, "what": Msg(what)},
    )


def _zip_bomb(name: str, expanded: int) -> UserError:
    return UserError(
        "'{name}' would expand to {size} when opened, far more than a real document, "
        "so I won't open it. If it is a genuine document, save it again from Word and upload that.",
        kind="zip_bomb",
        params={"name": name, "size": format_mb(expanded)},
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


def _tidy(text: str) -> str:
    """Printable text with normalised line ends and no runs of blank lines."""
    text = _BAD_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _decode(data: bytes) -> tuple[str, str]:
    text, encoding = detect_and_decode(data)
    return text.lstrip("\ufeff"), encoding


def _parse_text(data: bytes, filename: str) -> ParsedDocument:
    text, encoding = _decode(data)
    return ParsedDocument("text", [Document(text=_tidy(text))], encoding=encoding)


def _parse_code(data: bytes, filename: str) -> ParsedDocument:
    text, encoding = _decode(data)
    language = code_language(filename, text) or "text"
    # Code keeps its indentation and blank lines: only line ends and stray control bytes change.
    text = _BAD_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n")
    return ParsedDocument(
        "code", [Document(text=text, metadata={"language": language})], language=language, encoding=encoding
    )


# --- sections from headings (markdown, html, docx)

Block = tuple[int | None, str]  # (heading level or None for body text, text)


def _sections(blocks: list[Block], *, title: str = "") -> list[Document]:
    """Group blocks under their heading path ("Guide > Install"); the heading opens its section's text."""
    documents: list[Document] = []
    stack: list[tuple[int, str]] = []
    path = title[:MAX_HEADING_CHARS]
    body: list[str] = []
    has_body = False

    def flush() -> None:
        text = _tidy("\n\n".join(body))
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


# --- markdown

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


def _parse_markdown(data: bytes, filename: str) -> ParsedDocument:
    # MarkdownReader (llama-index-readers-file 0.7) files text under the wrong heading when a deeper heading
    # follows, ignores ~~~ fences and strips indentation, so headings are found here instead.
    text, encoding = _decode(data)
    blocks, title = markdown_blocks(text.replace("\r\n", "\n").replace("\r", "\n"))
    return ParsedDocument("markdown", _sections(blocks, title=title), encoding=encoding)


# --- html

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
    return _decode(data)


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


def _parse_html(data: bytes, filename: str) -> ParsedDocument:
    text, encoding = _decode_html(data)
    blocks, title = html_blocks(text)
    if not any(level is None and body.strip() for level, body in blocks):
        blocks, title = html_blocks(text, drop_link_lists=False)  # a page that is only links: keep them
    return ParsedDocument("html", _sections(blocks, title=title), encoding=encoding)


# --- csv


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


def _parse_csv(data: bytes, filename: str) -> ParsedDocument:
    name = safe_filename(filename)
    text, encoding = _decode(data)
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
        raise _corrupt(name, "CSV", Msg("line {line} could not be read", line=reader.line_num)) from None
    if not sections and header:
        sections.append(Document(text=_tidy("Columns: " + ", ".join(header)), metadata={"section": "header"}))
    return ParsedDocument("csv", sections, encoding=encoding)


def _csv_section(records: list[str], first: int, last: int) -> Document:
    return Document(text="\n\n".join(records), metadata={"section": f"rows {first}-{last}"})


# --- docx


def _open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    """Open a zip after checking its declared sizes, so nothing is expanded before it is known safe."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except _ZIP_ERRORS:
        raise _corrupt(name, "a Word document (.docx)") from None
    expanded = sum(member.file_size for member in members)
    if len(members) > ZIP_MAX_ENTRIES or expanded > ZIP_MAX_TOTAL or (
        expanded > ZIP_RATIO_FLOOR and expanded > ZIP_MAX_RATIO * len(data)
    ):
        raise _zip_bomb(name, expanded)
    return archive


def _read_member(archive: zipfile.ZipFile, member: str, name: str, archive_size: int) -> bytes:
    """A member's bytes, reading no more than the size limits allow even if the declared sizes lie."""
    limit = min(ZIP_MAX_TOTAL, max(ZIP_RATIO_FLOOR, ZIP_MAX_RATIO * archive_size))
    try:
        with archive.open(member) as stream:
            content = stream.read(limit + 1)
    except KeyError:
        raise _corrupt(name, "a Word document (.docx)", Msg("{member} is missing", member=member)) from None
    except _ZIP_ERRORS:
        raise _corrupt(name, "a Word document (.docx)") from None
    if len(content) > limit:
        raise _zip_bomb(name, len(content))
    return content


def _parse_xml(content: bytes, name: str) -> ET.Element:
    # Office files never declare a DTD; refusing one rules out entity-expansion tricks.
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise _corrupt(name, "a Word document (.docx)", "unexpected XML declarations")
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        raise _corrupt(name, "a Word document (.docx)") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element: ET.Element, attribute: str) -> str | None:
    for key, value in element.attrib.items():
        if _local(key) == attribute:
            return value
    return None


def _child(element: ET.Element, tag: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == tag:
            return child
    return None


def _outline_level(properties: ET.Element | None) -> int | None:
    """The heading level a w:outlineLvl gives (0 → 1); None for body text (9) or when absent."""
    outline = _child(properties, "outlineLvl") if properties is not None else None
    value = (_attr(outline, "val") or "") if outline is not None else ""
    return int(value) + 1 if value.isdigit() and int(value) < 9 else None


def _style_levels(styles: ET.Element | None) -> dict[str, int]:
    """Heading level per paragraph style id, from style names ("heading 2", "Title") or outline levels."""
    levels: dict[str, int] = {}
    if styles is None:
        return levels
    for style in styles:
        if _local(style.tag) != "style" or _attr(style, "type") != "paragraph":
            continue
        style_id = _attr(style, "styleId") or ""
        name_element = _child(style, "name")
        style_name = (_attr(name_element, "val") or "").lower() if name_element is not None else ""
        heading = re.fullmatch(r"heading\s*([1-9])", style_name)
        properties = _child(style, "pPr")
        if heading:
            levels[style_id] = int(heading.group(1))
        elif style_name == "title":
            levels[style_id] = 1
        elif _outline_level(properties) is not None:
            levels[style_id] = _outline_level(properties) or 1
    return levels


def _paragraph_level(paragraph: ET.Element, levels: dict[str, int]) -> int | None:
    properties = _child(paragraph, "pPr")
    if properties is None:
        return None
    outline = _outline_level(properties)
    if outline is not None:
        return outline
    style = _child(properties, "pStyle")
    style_id = (_attr(style, "val") or "") if style is not None else ""
    if style_id in levels:
        return levels[style_id]
    match = re.fullmatch(r"(?i)heading\s*([1-9])|title", style_id)
    if match:
        return int(match.group(1)) if match.group(1) else 1
    return None


def _paragraph_text(paragraph: ET.Element) -> str:
    pieces: list[str] = []
    stack = [paragraph]
    while stack:
        element = stack.pop()
        tag = _local(element.tag)
        # mc:Fallback repeats the mc:Choice content (text boxes) for older readers.
        if tag == "Fallback":
            continue
        stack.extend(reversed(element))
        if tag == "t" and element.text:
            pieces.append(element.text)
        elif tag == "tab":
            pieces.append("\t")
        elif tag in ("br", "cr"):
            pieces.append("\n")
    return "".join(pieces)


def _docx_blocks(body: ET.Element, levels: dict[str, int]) -> Iterator[Block]:
    stack = [iter(body)]
    while stack:
        element = next(stack[-1], None)
        if element is None:
            stack.pop()
            continue
        tag = _local(element.tag)
        if tag == "p":
            yield _paragraph_level(element, levels), _paragraph_text(element)
        elif tag == "tbl":
            rows = []
            for row in (child for child in element if _local(child.tag) == "tr"):
                cells = [
                    " ".join(_paragraph_text(p) for p in cell.iter() if _local(p.tag) == "p").strip()
                    for cell in row
                    if _local(cell.tag) == "tc"
                ]
                rows.append(" | ".join(cell for cell in cells if cell))
            yield None, "\n".join(row for row in rows if row)
        elif tag in ("sdt", "sdtContent", "customXml", "smartTag", "ins"):
            stack.append(iter(element))


def _parse_docx(data: bytes, filename: str) -> ParsedDocument:
    # DocxReader (docx2txt) flattens the document to plain text and loses its headings, so the XML is
    # read here, after the zip's sizes are checked.
    name = safe_filename(filename)
    archive = _open_zip(data, name)
    with archive:
        document = _parse_xml(_read_member(archive, "word/document.xml", name, len(data)), name)
        styles = None
        if "word/styles.xml" in archive.namelist():
            styles = _parse_xml(_read_member(archive, "word/styles.xml", name, len(data)), name)
    body = _child(document, "body")
    if body is None:
        raise _corrupt(name, "a Word document (.docx)", "it has no body")
    blocks = list(_docx_blocks(body, _style_levels(styles)))
    return ParsedDocument("docx", _sections(blocks))


# --- pdf


def _parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    # PDFReader (llama-index-readers-file) retries a broken file three times, fails the whole file on one bad
    # page and can't tell "encrypted" from "damaged"; pypdf is driven directly so each gets its own message.
    name = safe_filename(filename)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise _encrypted(name, "PDF")
        count = len(reader.pages)
    except UserError:
        raise
    except (DependencyError, FileNotDecryptedError):
        raise _encrypted(name, "PDF") from None
    except Exception as error:  # pypdf raises many types on malformed input
        log.info("unreadable PDF %r: %r", name, error)
        raise _corrupt(name, "PDF") from None
    if count == 0:
        raise _corrupt(name, "PDF", "it has no pages")
    sections: list[Document] = []
    failures = 0
    for number in range(1, count + 1):
        try:
            text = reader.pages[number - 1].extract_text()
        except (DependencyError, FileNotDecryptedError):
            raise _encrypted(name, "PDF") from None
        except Exception as error:  # one bad page should not lose the others
            log.info("unreadable page %d of %r: %r", number, name, error)
            failures += 1
            continue
        text = _tidy(text or "")
        if text:
            sections.append(Document(text=text, metadata={"page": number}))
    if failures == count:
        raise _corrupt(name, "PDF")
    return ParsedDocument("pdf", sections, pages=count)


_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "markdown": _parse_markdown,
    "html": _parse_html,
    "csv": _parse_csv,
    "code": _parse_code,
    "text": _parse_text,
}
assert set(_PARSERS) == set(KINDS)
