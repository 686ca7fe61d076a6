"""Word documents (.docx): paragraphs, headings and tables read from the document's XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from bot.files import safe_filename
from index.readers.archive import open_zip, read_member
from index.readers.common import ParsedDocument, corrupt
from index.readers.sections import Block, sections


def _parse_xml(content: bytes, name: str) -> ET.Element:
    # Office files never declare a DTD; refusing one rules out entity-expansion tricks.
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise corrupt(name, "a Word document (.docx)", "unexpected XML declarations")
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        raise corrupt(name, "a Word document (.docx)") from None


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


def parse_docx(data: bytes, filename: str) -> ParsedDocument:
    """A Word document as sections under its headings, tables as rows of cells."""
    # DocxReader (docx2txt) flattens the document to plain text and loses its headings, so the XML is
    # read here, after the zip's sizes are checked.
    name = safe_filename(filename)
    archive = open_zip(data, name)
    with archive:
        document = _parse_xml(read_member(archive, "word/document.xml", name, len(data)), name)
        styles = None
        if "word/styles.xml" in archive.namelist():
            styles = _parse_xml(read_member(archive, "word/styles.xml", name, len(data)), name)
    body = _child(document, "body")
    if body is None:
        raise corrupt(name, "a Word document (.docx)", "it has no body")
    blocks = list(_docx_blocks(body, _style_levels(styles)))
    return ParsedDocument("docx", sections(blocks))
