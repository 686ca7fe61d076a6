"""Shared file checks: decoding text in the encodings teams use, safe names, and sniffing types."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile

import pytest

from bot.errors import UserError
from bot.files import code_language, detect_and_decode, read_text, safe_filename, sniff_kind

NEKO = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
)
MINUTES = (
    "会議の議事録（2024年4月）\n出席者：田中、鈴木、高橋\n・予算の確認\n・次回の予定\n"
    "※ 資料は共有フォルダにあります。"
)
# Only Shift_JIS as Windows writes it (cp932) has ① and 髙.
WINDOWS_ONLY = "① 予算の確認 ② 髙橋さんの報告"
HALF_WIDTH = "ﾃｽﾄ ﾃﾞｰﾀ,ﾌﾘｺﾐ,ｶﾌﾞｼｷｶﾞｲｼｬ"
JAPANESE = [
    NEKO, MINUTES, "日本", "東京都", "カタカナ", "表示", "README: インストール方法\n1. pip install teambot",
]


# ------------------------------------------------------------------------------------------------ decode


def test_utf8_with_and_without_bom() -> None:
    assert read_text("héllo 日本".encode()) == "héllo 日本"
    assert read_text(b"\xef\xbb\xbf" + "héllo".encode()) == "héllo"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom_or_without(encoding: str) -> None:
    text = "Meeting notes\nAgenda: budget, 会議の議事録\n"
    data = text.encode(encoding)
    assert read_text(data) == text


def test_utf16_without_bom_reports_its_byte_order() -> None:
    assert detect_and_decode("plain ascii text\n".encode("utf-16-le"))[1] == "utf-16-le"
    assert detect_and_decode("plain ascii text\n".encode("utf-16-be"))[1] == "utf-16-be"


@pytest.mark.parametrize("text", JAPANESE)
@pytest.mark.parametrize("encoding", ["cp932", "euc_jp"])
def test_shift_jis_and_euc_jp_are_told_apart(text: str, encoding: str) -> None:
    decoded, detected = detect_and_decode(text.encode(encoding))
    assert decoded == text
    assert detected == encoding


def test_every_short_slice_of_japanese_text_decodes_right() -> None:
    source = NEKO + MINUTES.replace("\n", "")
    # Two or three bytes can be valid UTF-8 by chance ("24年" in EUC-JP), so slices hold a few characters.
    for length in (4, 6, 12):
        for start in range(0, len(source) - length, 3):
            piece = source[start : start + length]
            if sum(not ch.isascii() for ch in piece) < 3:
                continue
            for encoding in ("cp932", "euc_jp"):
                try:
                    data = piece.encode(encoding)
                except UnicodeEncodeError:
                    continue
                assert read_text(data) == piece, (piece, encoding)


def test_windows_only_shift_jis_characters_are_read() -> None:
    assert detect_and_decode(WINDOWS_ONLY.encode("cp932")) == (WINDOWS_ONLY, "cp932")


def test_half_width_katakana_shift_jis_file_is_read() -> None:
    assert read_text(HALF_WIDTH.encode("cp932")) == HALF_WIDTH


def test_iso_2022_jp_mail_text_is_read() -> None:
    assert read_text(NEKO.encode("iso2022_jp")) == NEKO


def test_western_legacy_text_is_read() -> None:
    text = "Grüße aus Köln, café crème, naïve résumé.\n"
    assert read_text(text.encode("cp1252")) == text


def test_a_stray_nul_in_long_text_is_tolerated() -> None:
    text = "log line with ordinary words\n" * 50 + "\x00"
    assert read_text(text.encode()) == text


def test_binary_is_refused() -> None:
    with pytest.raises(UserError) as caught:
        read_text(bytes(range(256)) * 8)
    assert caught.value.kind == "binary"
    assert "binary data" in caught.value.message


def test_png_is_refused_and_named() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200)
    with pytest.raises(UserError) as caught:
        read_text(png)
    assert caught.value.kind == "binary"
    assert "PNG image" in caught.value.message


def test_text_in_no_known_encoding_is_refused() -> None:
    with pytest.raises(UserError) as caught:
        read_text(bytes(range(0x80, 0x100)) * 20)
    assert caught.value.kind == "bad_encoding"
    assert "UTF-8" in caught.value.message and "Shift_JIS" in caught.value.message


def test_text_that_starts_like_a_magic_number_is_still_text() -> None:
    assert read_text(b"MZ is the mark of a DOS program. ID3 tags hold music titles.").startswith("MZ is")


# ------------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\bob\\議事録.md", "議事録.md"),
        ("notes\x00\x07.txt", "notes.txt"),
        ("two\nlines\tx.txt", "two lines x.txt"),
        ("archive.tar.gz", "archive.tar.gz"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("..", "file"),
        ("", "file"),
        ("\x01\x02.pdf", "file.pdf"),
        ("CON.txt", "_CON.txt"),
        ('a<b>:"c"|d?.txt', "a_b___c__d_.txt"),
        ("会議の議事録 2024年4月.docx", "会議の議事録 2024年4月.docx"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_limits_length_and_keeps_the_extension() -> None:
    long_name = safe_filename("x" * 300 + ".pdf")
    assert len(long_name) == 100 and long_name.endswith(".pdf")
    japanese = safe_filename("日本語" * 100 + ".txt")
    assert japanese.endswith(".txt") and japanese.startswith("日本語")
    assert len(japanese.encode()) <= 240


def test_safe_filename_composes_decomposed_japanese_from_macos() -> None:
    decomposed = unicodedata.normalize("NFD", "ガイド.md")
    assert safe_filename(decomposed) == "ガイド.md"


# ------------------------------------------------------------------------------------------------ sniff


def _zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("report.pdf", b"%PDF-1.7\n...", "pdf"),
        ("report.txt", b"%PDF-1.4\n...", "pdf"),
        ("letter.docx", _zip(["[Content_Types].xml", "word/document.xml"]), "docx"),
        ("guide.md", b"# Title\n", "markdown"),
        ("page.htm", b"<p>hi</p>", "html"),
        ("saved.txt", b"\n  <!DOCTYPE html><html><body>hi</body></html>", "html"),
        ("table.csv", b"a,b\n1,2\n", "csv"),
        ("table.tsv", b"a\tb\n1\t2\n", "csv"),
        ("main.py", b"print('hi')\n", "code"),
        ("Dockerfile", b"FROM python:3.11\n", "code"),
        ("run", b"#!/usr/bin/env python3\nprint(1)\n", "code"),
        ("README", b"just words\n", "text"),
        ("notes.txt", "utf-16 notes\n".encode("utf-16-le"), "text"),
    ],
)
def test_sniff_kind(name: str, data: bytes, kind: str) -> None:
    assert sniff_kind(data, name) == kind


def test_code_language_from_extension_name_or_shebang() -> None:
    assert code_language("app.ts") == "typescript"
    assert code_language("Makefile") == "make"
    assert code_language("tool", "#!/usr/bin/env python3\n") == "python"
    assert code_language("tool", "#!/bin/bash\n") == "bash"
    assert code_language("notes.txt") is None


def _refusal(data: bytes, name: str) -> UserError:
    with pytest.raises(UserError) as caught:
        sniff_kind(data, name)
    return caught.value


def test_binary_renamed_txt_is_refused() -> None:
    error = _refusal(b"\x7fELF\x02\x01\x01\x00" + bytes(200), "notes.txt")
    assert error.kind == "binary"
    assert "binary data" in error.message and "program" in error.message


def test_pdf_that_is_not_a_pdf_is_refused_as_corrupt() -> None:
    error = _refusal(b"<html>not a pdf</html>", "report.pdf")
    assert error.kind == "corrupt"
    assert "'report.pdf'" in error.message and "PDF" in error.message


def test_docx_that_is_not_a_zip_is_refused_as_corrupt() -> None:
    error = _refusal(b"plain text pretending", "letter.docx")
    assert error.kind == "corrupt"
    assert "Word document" in error.message


def test_spreadsheet_is_unsupported_and_named() -> None:
    error = _refusal(_zip(["[Content_Types].xml", "xl/workbook.xml"]), "budget.xlsx")
    assert error.kind == "unsupported_type"
    assert "Excel spreadsheet" in error.message and "Supported:" in error.message


def test_unknown_extension_lists_supported_types() -> None:
    error = _refusal(b"MZ\x90\x00\x03" + bytes(100), "setup.exe")
    assert error.kind == "unsupported_type"
    assert ".docx" in error.message and "PDF" in error.message and "CSV" in error.message


def test_old_word_document_gets_a_hint() -> None:
    error = _refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "memo.doc")
    assert error.kind == "unsupported_type"
    assert "Save it as .docx" in error.message


def test_password_protected_office_file_is_called_encrypted() -> None:
    marker = "EncryptedPackage".encode("utf-16-le")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100) + marker + bytes(100)
    error = _refusal(ole, "secret.docx")
    assert error.kind == "encrypted"
    assert "remove the password" in error.message
