"""Real test files built in memory (PDFs, Word documents, zips), sample texts, and vector-store chunks."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str], *, xref: bool = True) -> bytes:
    """A PDF with one page per string (Helvetica, a line per '\\n'); empty strings give blank pages."""
    objects: list[bytes] = []
    count = len(pages)
    # 1: catalog, 2: page tree, 3: font, then a page object and a content stream per page.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, text in enumerate(pages):
        page = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(page.encode())
        lines = [line for line in text.split("\n")] if text else []
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 740 Td"]
        for line in lines:
            ops.append(f"({_pdf_string(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252") if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    start = out.tell()
    if xref:
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start))
    return out.getvalue()


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    """The same PDF, encrypted with RC4 (needs no optional crypto package)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml"
 ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml"
 ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
 Target="word/document.xml"/>
</Relationships>"""
_W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
# Japanese Word names heading styles by number ids ("1", "2"); their names still say "heading N".
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles {_W_NS}>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="2"><w:name w:val="heading 2"/></w:style>
</w:styles>"""

Block = tuple[str | None, str] | list[list[str]]


def docx_document_xml(blocks: list[Block]) -> str:
    """word/document.xml for paragraphs (style id, text) and tables (lists of rows of cells)."""
    body = []
    for block in blocks:
        if isinstance(block, list):
            rows = "".join(
                "<w:tr>" + "".join(
                    f"<w:tc><w:p><w:r><w:t>{escape(cell)}</w:t></w:r></w:p></w:tc>" for cell in row
                ) + "</w:tr>"
                for row in block
            )
            body.append(f"<w:tbl>{rows}</w:tbl>")
            continue
        style, text = block
        properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        runs = "<w:r><w:br/></w:r>".join(
            f'<w:r><w:t xml:space="preserve">{escape(part)}</w:t></w:r>' for part in text.split("\n")
        )
        body.append(f"<w:p>{properties}{runs}</w:p>")
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {_W_NS}><w:body>'
        + "".join(body)
        + "<w:sectPr/></w:body></w:document>"
    )


def make_docx(blocks: list[Block], *, document_xml: str | None = None) -> bytes:
    """A minimal but real .docx (Word opens it) with the given paragraphs and tables."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document_xml or docx_document_xml(blocks))
        archive.writestr("word/styles.xml", _STYLES)
    return out.getvalue()


def make_zip_bomb_docx(expanded_mb: int = 60) -> bytes:
    """A .docx whose document.xml expands from about 60 KB to `expanded_mb` MB of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w") as member:
            member.write(f"<w:document {_W_NS}><w:body><w:p><w:r><w:t>".encode())
            block = b" " * (1024 * 1024)
            for _ in range(expanded_mb):
                member.write(block)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten in its local and central headers (a lie)."""
    out = bytearray(data)
    encoded = member.encode()
    for signature, size_offset, name_offset in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):
        start = 0
        while (start := out.find(signature, start)) != -1:
            if out[start + name_offset : start + name_offset + len(encoded)] == encoded:
                out[start + size_offset : start + size_offset + 4] = size.to_bytes(4, "little")
            start += 4
    return bytes(out)


# ---------------------------------------------------------------------------------------------- sample texts

NEKO = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。しかもあとで聞くとそれは書生という人間中で一番獰悪な種族であったそうだ。"
    "この書生というのは時々我々を捕えて煮て食うという話である。「本当ですか？」と聞いた。"
    "しかしその当時は何という考もなかったから別段恐しいとも思わなかった！"
)
EXTRA = {"uploader": 111, "scope": "server", "guild": 222, "channel": 333}

GUIDE = """---
title: Team Guide
---
Read this first.

# Setup
Install with `pip install <pkg>` from [the index](https://example.org).
<!-- hidden note -->

## Requirements
Python 3.11 <b>or newer</b>.

```python
# a comment, not a heading
def main():
    return 1
```

~~~
# also code
~~~

Usage
-----
Run ![the logo](logo.png) it.

# FAQ
### Where?
Here.
"""


# --------------------------------------------------------------------------------------------- vector chunks

DIM = 8


def chunk(
    doc_id: str,
    i: int,
    text: str,
    vector: list[float] | None,
    *,
    shard: str = "1",
    scope: str = "server:1",
) -> TextNode:
    """A chunk as ingest makes it: doc id, shard and scope in its metadata, its document as source."""
    metadata = {"doc_id": doc_id, "filename": f"{doc_id}.md", "shard": shard, "scope": scope}
    node = TextNode(
        id_=f"{doc_id}:{i}",
        text=text,
        metadata=metadata,
        embedding=vector,
        excluded_embed_metadata_keys=["doc_id", "shard", "scope"],
        excluded_llm_metadata_keys=["doc_id", "shard", "scope"],
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    return node


def axis(i: int, dim: int = DIM) -> list[float]:
    """A unit vector along one axis."""
    vector = [0.0] * dim
    vector[i] = 1.0
    return vector


def ids(results: list[tuple[TextNode, float]]) -> list[str]:
    """The node ids of search results, in order."""
    return [node.node_id for node, _ in results]
