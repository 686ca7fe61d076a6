"""Parsing real files: every supported type, and every bad file with the message it gets."""

from __future__ import annotations

import re
import time

import pytest

from bot.errors import UserError
from index.chunking import chunk_document
from index.ingest import ParsedDocument, parse_document
from tests.index.builders import (
    EXTRA,
    GUIDE,
    NEKO,
    docx_document_xml,
    encrypt_pdf,
    make_docx,
    make_pdf,
    make_zip_bomb_docx,
    set_declared_size,
)


def refusal(data: bytes, filename: str, **kwargs: int) -> UserError:
    with pytest.raises(UserError) as caught:
        parse_document(data, filename, **kwargs)
    return caught.value


def section_names(parsed: ParsedDocument) -> list[str]:
    return [section.metadata.get("section", "") for section in parsed.sections]


# ------------------------------------------------------------------------------------------------ pdf


def test_multi_page_pdf_gives_one_section_per_page_with_its_number() -> None:
    pdf = make_pdf(["Quarterly report\nRevenue grew 12%.", "", "Appendix (costs)\nTravel: 3,000 EUR"])
    parsed = parse_document(pdf, "report.pdf")
    assert parsed.kind == "pdf" and parsed.pages == 3
    assert [s.metadata for s in parsed.sections] == [{"page": 1}, {"page": 3}]
    assert "Revenue grew 12%." in parsed.sections[0].text
    assert "Appendix (costs)" in parsed.sections[1].text


def test_pdf_is_never_read_as_raw_bytes() -> None:
    parsed = parse_document(make_pdf(["Hello"]), "named-as-text.txt")
    assert parsed.kind == "pdf"
    assert all("endobj" not in s.text and "%PDF" not in s.text for s in parsed.sections)


def test_encrypted_pdf_is_refused() -> None:
    error = refusal(encrypt_pdf(make_pdf(["secret plans"]), user_password="hunter2"), "plans.pdf")
    assert error.kind == "encrypted"
    assert "'plans.pdf'" in error.message and "remove the password and upload it again" in error.message


def test_pdf_with_only_an_owner_password_is_read() -> None:
    parsed = parse_document(encrypt_pdf(make_pdf(["open to read"]), user_password=""), "locked.pdf")
    assert "open to read" in parsed.sections[0].text


def test_pdf_with_wrong_xref_offsets_is_still_read() -> None:
    pdf = re.sub(rb"\d{10} 00000 n", b"0000000000 00000 n", make_pdf(["page one", "page two"]))
    parsed = parse_document(pdf, "repaired.pdf")
    assert [s.text for s in parsed.sections] == ["page one", "page two"]


def test_pdf_with_broken_xref_and_objects_is_refused_as_corrupt() -> None:
    pdf = make_pdf(["page one"]).replace(b" obj", b" xbj").replace(b"xref", b"xxxx")
    error = refusal(pdf, "broken.pdf")
    assert error.kind == "corrupt"
    assert "'broken.pdf'" in error.message and "damaged" in error.message


def test_truncated_pdf_is_refused_as_corrupt() -> None:
    pdf = make_pdf(["page one", "page two"])
    assert refusal(pdf[: len(pdf) // 3], "cut.pdf").kind == "corrupt"


def test_pdf_without_text_is_refused_as_scanned() -> None:
    error = refusal(make_pdf(["", ""]), "scan.pdf")
    assert error.kind == "empty"
    assert "scanned" in error.message and "OCR" in error.message


def test_pdf_name_without_pdf_content_is_refused_as_corrupt() -> None:
    error = refusal(b"This is not really a PDF file.", "fake.pdf")
    assert error.kind == "corrupt"
    assert "'fake.pdf'" in error.message and "PDF" in error.message


# ------------------------------------------------------------------------------------------------ docx

HANDBOOK = [
    ("Title", "Handbook"),
    (None, "Welcome to the team."),
    ("1", "Chapter 1 Setup"),
    (None, "Install the tools."),
    ("2", "Accounts"),
    (None, "Ask IT for an account.\nThen log in."),
    [["System", "Owner"], ["Mail", "IT"]],
    ("Heading1", "第2章 休暇"),
    (None, "休暇は上長に申請してください。"),
]


def test_docx_sections_follow_its_headings() -> None:
    parsed = parse_document(make_docx(HANDBOOK), "handbook.docx")
    assert parsed.kind == "docx"
    assert section_names(parsed) == [
        "Handbook", "Chapter 1 Setup", "Chapter 1 Setup > Accounts", "第2章 休暇",
    ]
    accounts = parsed.sections[2].text
    assert accounts.startswith("Accounts")
    assert "Ask IT for an account.\nThen log in." in accounts
    assert "System | Owner\nMail | IT" in accounts
    assert "<w:" not in "".join(s.text for s in parsed.sections)


def test_docx_text_box_is_read_once() -> None:
    box = "<w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent>"
    paragraph = (
        '<w:p><w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        f"<mc:Choice Requires=\"wps\"><w:drawing>{box}</w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    xml = docx_document_xml([(None, "Before.")]).replace("<w:sectPr/>", paragraph + "<w:sectPr/>")
    parsed = parse_document(make_docx([], document_xml=xml), "box.docx")
    assert parsed.sections[0].text == "Before.\n\nBoxed note"


def test_truncated_docx_is_refused_as_corrupt() -> None:
    data = make_docx(HANDBOOK)
    error = refusal(data[: len(data) // 2], "cut.docx")
    assert error.kind == "corrupt"
    assert "'cut.docx'" in error.message and "Word document" in error.message


def test_docx_with_a_dtd_is_refused_as_corrupt() -> None:
    xml = docx_document_xml([(None, "&lol;")]).replace(
        "<w:document", '<!DOCTYPE d [<!ENTITY lol "lol">]><w:document', 1
    )
    assert refusal(make_docx([], document_xml=xml), "entities.docx").kind == "corrupt"


def test_docx_that_expands_too_far_is_refused_before_extraction() -> None:
    started = time.perf_counter()
    error = refusal(make_zip_bomb_docx(60), "bomb.docx")
    assert error.kind == "zip_bomb"
    assert "'bomb.docx'" in error.message and "60 MB" in error.message
    assert time.perf_counter() - started < 1


def test_docx_declaring_a_huge_size_is_refused() -> None:
    data = set_declared_size(make_docx(HANDBOOK), "word/document.xml", 300 * 1024 * 1024)
    error = refusal(data, "huge.docx")
    assert error.kind == "zip_bomb"
    assert "300 MB" in error.message


def test_docx_lying_about_its_size_is_not_expanded() -> None:
    data = set_declared_size(make_zip_bomb_docx(60), "word/document.xml", 1000)
    # The ratio check passes on the lie; the bounded read then stops at the declared size and the CRC fails.
    assert refusal(data, "liar.docx").kind == "corrupt"


def test_empty_docx_is_refused_as_empty() -> None:
    error = refusal(make_docx([(None, "   ")]), "blank.docx")
    assert error.kind == "empty"
    assert "'blank.docx' has no text" in error.message


# ------------------------------------------------------------------------------------------------ markdown


def test_markdown_sections_keep_the_heading_path() -> None:
    parsed = parse_document(GUIDE.encode(), "guide.md")
    assert parsed.kind == "markdown"
    assert section_names(parsed) == [
        "Team Guide", "Setup", "Setup > Requirements", "Setup > Usage", "FAQ > Where?",
    ]


def test_markdown_text_is_what_a_person_reads() -> None:
    parsed = parse_document(GUIDE.encode(), "guide.md")
    setup, requirements, usage = parsed.sections[1].text, parsed.sections[2].text, parsed.sections[3].text
    assert setup == "Setup\n\nInstall with `pip install <pkg>` from the index."
    assert "Python 3.11 or newer." in requirements
    assert "# a comment, not a heading\ndef main():\n    return 1" in requirements
    assert "Run the logo it." in usage
    assert "hidden note" not in "".join(s.text for s in parsed.sections)


# ------------------------------------------------------------------------------------------------ html

PAGE = """<!DOCTYPE html><html><head><title>Docs: Backups</title>
<style>body { color: red }</style><script>trackVisitor()</script></head>
<body><nav><a href="/">Home</a><a href="/x">Products</a></nav>
<header>ACME site header</header>
<div class="content">
<p>Backups run nightly.</p>
<h1>Restoring</h1><p>Open the <b>console</b>   and
 choose a date.</p>
<h2>From tape</h2><ul><li>Call IT</li><li>Wait a day</li></ul>
<table><tr><th>Tier</th><th>Hours</th></tr><tr><td>Gold</td><td>4</td></tr></table>
<pre>restore --from tape
    --verify</pre>
<aside>Related: ads</aside><noscript>enable js</noscript>
</div>
<footer>© ACME</footer><script>more()</script></body></html>"""


def test_html_is_clean_text_under_headings() -> None:
    parsed = parse_document(PAGE.encode(), "backups.html")
    assert parsed.kind == "html"
    assert section_names(parsed) == ["Docs: Backups", "Restoring", "Restoring > From tape"]
    everything = "\n".join(s.text for s in parsed.sections)
    unwanted = ("trackVisitor", "color: red", "Products", "ACME site header", "ads", "enable js", "©", "<")
    assert [word for word in unwanted if word in everything] == []
    assert parsed.sections[1].text == "Restoring\n\nOpen the console and choose a date."
    tape = parsed.sections[2].text
    assert "- Call IT\n- Wait a day" in tape and "Tier | Hours\nGold | 4" in tape
    assert "restore --from tape\n    --verify" in tape


def test_html_in_shift_jis_with_a_meta_charset() -> None:
    html = '<html><head><meta charset="Shift_JIS"></head><body><h1>休暇</h1><p>申請してください。</p></body>'
    parsed = parse_document(html.encode("cp932"), "kyuka.html")
    assert parsed.sections[0].text == "休暇\n\n申請してください。"


def test_html_saved_as_utf8_with_an_old_latin1_tag() -> None:
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Café – 日本</p></body></html>'
    assert parse_document(html.encode(), "old.html").sections[0].text == "Café – 日本"


@pytest.mark.parametrize("closed", [True, False])
def test_deeply_nested_html_is_parsed_without_crashing(closed: bool) -> None:
    depth = 5000
    html = "<html><body>" + "<div>" * depth + "<p>deep text</p>" + ("</div>" * depth if closed else "")
    parsed = parse_document(html.encode(), "deep.html")
    assert parsed.sections[0].text == "deep text"


# ------------------------------------------------------------------------------------------------ csv


def test_csv_rows_carry_their_header() -> None:
    data = 'name,age,city\nAlice,30,Tokyo\nBob,,Osaka\n"Carol, Jr",25,"New\nYork"\n'
    parsed = parse_document(data.encode(), "people.csv")
    assert parsed.kind == "csv"
    assert section_names(parsed) == ["rows 2-4"]
    assert parsed.sections[0].text == (
        "Row 2\nname: Alice\nage: 30\ncity: Tokyo\n\n"
        "Row 3\nname: Bob\ncity: Osaka\n\n"
        "Row 4\nname: Carol, Jr\nage: 25\ncity: New York"
    )


def test_csv_with_semicolons_and_tsv() -> None:
    assert "price: 3,50" in parse_document(b"item;price\ntea;3,50\n", "eu.csv").sections[0].text
    assert "price: 4" in parse_document(b"item\tprice\ncoffee\t4\n", "menu.tsv").sections[0].text


def test_long_csv_chunks_all_keep_the_header() -> None:
    rows = "\n".join(f"{i},Product {i},{i * 3} yen" for i in range(1, 1001))
    parsed = parse_document(f"id,name,price\n{rows}\n".encode(), "products.csv")
    nodes = chunk_document(parsed, doc_id="csv1", filename="products.csv", extra_metadata=EXTRA)
    assert len(nodes) > 10
    for node in nodes:
        assert node.text.startswith("Row ") and "name: Product" in node.text and "price:" in node.text
        assert re.fullmatch(r"rows? \d+(-\d+)?", node.metadata["section"])
    assert "Row 1001\nid: 1000" in nodes[-1].text


def test_csv_with_a_giant_cell_is_refused_as_corrupt() -> None:
    error = refusal(b"a,b\n1," + b"x" * 200_000 + b"\n", "giant.csv")
    assert error.kind == "corrupt"
    assert "'giant.csv'" in error.message and "line 2 could not be read" in error.message


def test_csv_with_a_million_columns_is_refused() -> None:
    data = ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n1,2\n"
    started = time.perf_counter()
    error = refusal(data, "wide.csv")
    assert error.kind == "too_many_columns"
    assert "1,000,000 columns" in error.message and "10,000" in error.message
    assert time.perf_counter() - started < 2


def test_csv_with_a_wide_row_later_is_refused() -> None:
    data = b"a,b\n1,2\n" + b",".join([b"x"] * 20_000) + b"\n"
    assert refusal(data, "later.csv").kind == "too_many_columns"


# ------------------------------------------------------------------------------------------------ code & text


def test_code_keeps_its_language_and_lines() -> None:
    source = "\n\n".join(f"def handler_{i}(event):\n    return event.get({i})" for i in range(300))
    parsed = parse_document(source.encode(), "handlers.py")
    assert parsed.kind == "code" and parsed.language == "python"
    nodes = chunk_document(parsed, doc_id="c1", filename="handlers.py", extra_metadata=EXTRA,
                           chunk_tokens=200)
    assert len(nodes) > 5
    assert {node.metadata["language"] for node in nodes} == {"python"}
    first, last = re.fullmatch(r"lines (\d+)-(\d+)", nodes[1].metadata["section"]).groups()  # type: ignore[union-attr]
    assert nodes[1].text == "\n".join(source.split("\n")[int(first) - 1 : int(last)])
    assert nodes[0].text.startswith("def handler_0(event):")
    assert source.split("\n")[-1] in nodes[-1].text


def test_minified_code_line_is_split() -> None:
    line = "var a=" + "+".join(f"f{i}()" for i in range(3000)) + ";"
    parsed = parse_document(line.encode(), "app.min.js")
    nodes = chunk_document(parsed, doc_id="m1", filename="app.min.js", chunk_tokens=300)
    assert parsed.language == "javascript" and len(nodes) > 5
    assert "".join(node.text for node in nodes) == line


@pytest.mark.parametrize(("name", "language"), [("App.tsx", "typescript"), ("Dockerfile", "dockerfile"),
                                                 ("query.sql", "sql"), ("deploy", "bash")])
def test_code_languages(name: str, language: str) -> None:
    parsed = parse_document(b"#!/bin/sh\necho hi\n" if name == "deploy" else b"x = 1\n", name)
    assert (parsed.kind, parsed.language) == ("code", language)
    assert parsed.sections[0].metadata == {"language": language}


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_japanese_text_files_are_read_in_every_common_encoding(encoding: str) -> None:
    text = "議事録\n" + NEKO
    parsed = parse_document(text.encode(encoding), "minutes.txt")
    assert parsed.kind == "text"
    assert parsed.sections[0].text == text


def test_utf16_without_bom_english_text() -> None:
    parsed = parse_document("Plain notes\r\nsecond line\r\n".encode("utf-16-le"), "notes.txt")
    assert parsed.sections[0].text == "Plain notes\nsecond line"


# ------------------------------------------------------------------------------------------------ refusals


def test_zero_byte_file_is_refused_as_empty() -> None:
    error = refusal(b"", "nothing.txt")
    assert error.kind == "empty"
    assert "'nothing.txt' is empty (0 bytes)" in error.message


def test_whitespace_only_file_is_refused_as_empty() -> None:
    assert refusal(b"  \n\t\n", "blank.md").kind == "empty"


def test_too_large_file_is_refused_with_the_limit() -> None:
    error = refusal(b"a" * (25 * 1024 * 1024 + 1), "big.txt")
    assert error.kind == "too_large"
    assert "the limit is 25 MB" in error.message and "'big.txt'" in error.message
    assert "limit is 1 MB" in refusal(b"a" * (1024 * 1024 + 1), "big.txt", max_bytes=1024 * 1024).message


def test_binary_renamed_txt_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    error = refusal(png, "notes.txt")
    assert error.kind == "binary"
    assert "'notes.txt'" in error.message and "PNG image" in error.message


def test_unsupported_type_is_refused_with_the_supported_list() -> None:
    error = refusal(b"\x00\x01\x02binary", "setup.exe")
    assert error.kind == "unsupported_type"
    assert "Supported:" in error.message and "PDF" in error.message and ".docx" in error.message


def test_text_in_an_unknown_encoding_is_refused() -> None:
    error = refusal(bytes(range(0x80, 0x100)) * 10, "mystery.txt")
    assert error.kind == "bad_encoding"
    assert "'mystery.txt'" in error.message and "Save it as UTF-8" in error.message


def test_messages_show_a_safe_file_name() -> None:
    error = refusal(b"", "../../etc/\x07evil\u202e.txt")
    assert "'evil.txt'" in error.message
    assert "../" not in error.message and "\x07" not in error.message
