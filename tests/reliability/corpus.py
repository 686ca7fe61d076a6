"""Hostile and broken uploads, each with what the user must be told: a refusal naming the problem, or
"indexed" with text that must come out exactly as written."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from tests.bot.test_images import bomb_png
from tests.index.builders import encrypt_pdf, make_docx, make_pdf, make_zip_bomb_docx, set_declared_size
from tests.reliability.conftest import MAX_UPLOAD_MB

JAPANESE = "社内規定：年次有給休暇は二十日です。申請は一週間前までに上長へ提出してください。"
UTF16_TEXT = "Quarterly report: the widget line grew twelve percent.\nNext review in March."
HANDBOOK = [(1, "Handbook"), (None, "Holidays are twenty-eight days.")]
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Upload:
    """One corpus entry: what is uploaded and what must happen.

    `refusal` is the words of the message for a refused file; None means it must be indexed, with `text`
    (when given) found verbatim in its chunks and `stored_name` as its name.
    """

    id: str
    filename: str
    make: Callable[[], bytes]
    refusal: str | None = None
    text: str | None = None
    stored_name: str | None = None


def _xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def _broken_xref_pdf() -> bytes:
    return make_pdf(["page one"]).replace(b" obj", b" xbj").replace(b"xref", b"xxxx")


def _wrong_offsets_pdf() -> bytes:
    return re.sub(rb"\d{10} 00000 n", b"0000000000 00000 n", make_pdf(["Offsets are wrong but it reads."]))


def _entity_docx() -> bytes:
    from tests.index.builders import docx_document_xml

    xml = docx_document_xml([(None, "&lol;")]).replace(
        "<w:document", '<!DOCTYPE d [<!ENTITY lol "lololololololol">]><w:document', 1
    )
    return make_docx([], document_xml=xml)


def _nested_html() -> bytes:
    depth = 20_000
    return ("<html><body>" + "<div>" * depth + "<p>deep text survives</p>" + "</div>" * depth).encode()


CORPUS: tuple[Upload, ...] = (
    Upload("zip-bomb docx", "bomb.docx", lambda: make_zip_bomb_docx(60), "would expand to 60 MB"),
    Upload("docx lying about its size", "liar.docx",
           lambda: set_declared_size(make_zip_bomb_docx(60), "word/document.xml", 1000), "damaged"),
    Upload("docx declaring 300 MB", "huge.docx",
           lambda: set_declared_size(make_docx(HANDBOOK), "word/document.xml", 300 << 20), "300 MB"),
    Upload("docx with an entity DTD", "entities.docx", _entity_docx, "damaged"),
    Upload("truncated docx", "cut.docx", lambda: make_docx(HANDBOOK)[:300], "damaged"),
    Upload("text renamed .docx", "notes.docx", lambda: b"just some text", "Word document"),
    Upload("encrypted PDF", "plans.pdf", lambda: encrypt_pdf(make_pdf(["plans"]), user_password="hunter2"),
           "password-protected PDF"),
    Upload("PDF with a broken xref", "broken.pdf", _broken_xref_pdf, "damaged"),
    Upload("truncated PDF", "cut.pdf", lambda: make_pdf(["one", "two"])[:200], "damaged"),
    Upload("scanned PDF", "scan.pdf", lambda: make_pdf(["", ""]), "OCR"),
    Upload("text renamed .pdf", "fake.pdf", lambda: b"This is not really a PDF file.", "PDF"),
    Upload("0-byte file", "empty.txt", lambda: b"", "is empty (0 bytes)"),
    Upload("only whitespace", "blank.md", lambda: b"  \n\t\n   \n", "has no text"),
    Upload("maximum size + 1", "big.txt", lambda: b"a" * ((MAX_UPLOAD_MB << 20) + 1),
           f"the limit is {MAX_UPLOAD_MB} MB"),
    Upload("binary renamed .txt", "notes.txt",
           lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "PNG image"),
    Upload("program renamed .md", "readme.md", lambda: b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8,
           "binary data"),
    Upload("unknown 8-bit encoding", "mystery.txt", lambda: bytes(range(0x80, 0x100)) * 10,
           "Save it as UTF-8"),
    Upload("CSV with 1M columns", "wide.csv", lambda: b"a," * 1_000_000 + b"a\n1,2\n", "1,000,001 columns"),
    Upload("Excel renamed", "sheet.xlsx", _xlsx, "Excel spreadsheet"),
    Upload("old Word .doc", "old.doc", lambda: OLE + bytes(600), "Save it as .docx"),
    Upload("password-protected Office file", "locked.docx",
           lambda: OLE + bytes(64) + "EncryptedPackage".encode("utf-16-le") + bytes(64),
           "password-protected Office document"),
    Upload("a program", "setup.exe", lambda: b"MZ\x90\x00" + bytes(200), "looks like a Windows program"),
    Upload("HTML of scripts only", "app.html",
           lambda: b"<html><head><script>alert(1)</script></head><body><nav>menu</nav></body></html>",
           "has no text"),
    # Read, and read right.
    Upload("UTF-16 without BOM", "report.txt", lambda: UTF16_TEXT.encode("utf-16-le"), text=UTF16_TEXT),
    Upload("Shift_JIS text", "kitei-sjis.txt", lambda: JAPANESE.encode("shift_jis"), text=JAPANESE),
    Upload("EUC-JP text", "kitei-euc.txt", lambda: JAPANESE.encode("euc_jp"), text=JAPANESE),
    Upload("Japanese UTF-16 without BOM", "kitei-16.txt", lambda: JAPANESE.encode("utf-16-be"),
           text=JAPANESE),
    Upload("deeply nested HTML", "deep.html", _nested_html, text="deep text survives"),
    Upload("PDF with wrong xref offsets", "offsets.pdf", _wrong_offsets_pdf,
           text="Offsets are wrong but it reads."),
    Upload("name with folders and control characters", "../../etc/\x07pass\u202ewd\x00\n.md",
           lambda: b"# Passwords\n\nNothing secret here.", text="Nothing secret here.",
           stored_name="passwd.md"),
    Upload("Windows path and a reserved name", "C:\\Users\\bob\\..\\CON.txt",
           lambda: b"reserved names stay inside", text="reserved names stay inside", stored_name="_CON.txt"),
)

IMAGE_BOMB = bomb_png(100_000, 100_000)
