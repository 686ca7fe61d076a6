"""File checks shared by document upload and code help: names, types and text decoding."""

from __future__ import annotations

import codecs
import functools
import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

from bot.errors import UserError
from bot.i18n import Msg

SUPPORTED_TYPES = (
    "text (.txt), Markdown (.md), PDF, Word (.docx), HTML, CSV and source code (.py, .js, .ts …)"
)

TEXT_EXTENSIONS = frozenset({".txt", ".text", ".log", ".rst", ".adoc", ".org"})
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
CSV_EXTENSIONS = frozenset({".csv", ".tsv"})
_TEXT_LIKE = TEXT_EXTENSIONS | MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | CSV_EXTENSIONS

CODE_LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".groovy": "groovy", ".gradle": "groovy",
    ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".cs": "csharp", ".fs": "fsharp", ".vb": "vbnet", ".swift": "swift", ".m": "objectivec",
    ".rb": "ruby", ".php": "php", ".pl": "perl", ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia",
    ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell",
    ".clj": "clojure", ".ml": "ocaml", ".zig": "zig", ".nim": "nim",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash", ".fish": "fish", ".ps1": "powershell",
    ".bat": "batch", ".cmd": "batch",
    ".sql": "sql", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonl": "json", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "properties", ".xml": "xml",
    ".css": "css", ".scss": "scss", ".sass": "sass", ".less": "less",
    ".vue": "vue", ".svelte": "svelte", ".graphql": "graphql", ".gql": "graphql", ".proto": "protobuf",
    ".tf": "hcl", ".hcl": "hcl", ".cmake": "cmake", ".mk": "make", ".dockerfile": "dockerfile",
    ".ipynb": "json",
}
CODE_FILENAMES: dict[str, str] = {
    "dockerfile": "dockerfile", "containerfile": "dockerfile", "makefile": "make", "gnumakefile": "make",
    "cmakelists.txt": "cmake", "jenkinsfile": "groovy", "vagrantfile": "ruby", "gemfile": "ruby",
    "rakefile": "ruby", "procfile": "yaml",
}
_SHEBANG_LANGUAGES = {
    "python": "python", "bash": "bash", "sh": "bash", "zsh": "bash", "node": "javascript",
    "ruby": "ruby", "perl": "perl", "php": "php", "deno": "typescript",
}

# (magic bytes, offset, what a person would call it)
_BINARY_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"RIFF", 0, "an image or media file"),
    (b"ftyp", 4, "a video or audio file"),
    (b"ID3", 0, "an audio file"),
    (b"OggS", 0, "an audio file"),
    (b"\x1f\x8b", 0, "a compressed (gzip) archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\x7fELF", 0, "a program"),
    (b"MZ", 0, "a Windows program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "an old-style Office document (.doc/.xls/.ppt)"),
    (b"SQLite format 3\x00", 0, "a database file"),
    (b"\x00asm", 0, "a WebAssembly program"),
    (b"BZh", 0, "a compressed (bzip2) archive"),
    (b"\xfd7zXZ\x00", 0, "a compressed (xz) archive"),
)
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_BAD_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_SAMPLE = 64 * 1024


def extension(filename: str) -> str:
    """The lower-case extension of a file name, with its dot ("" when there is none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def code_language(filename: str, text: str = "") -> str | None:
    """The programming language of a file, from its name or its #! line; None when it is not code."""
    base = PurePosixPath(filename.replace("\\", "/")).name.lower()
    if base in CODE_FILENAMES:
        return CODE_FILENAMES[base]
    language = CODE_LANGUAGES.get(extension(filename))
    if language is None and text.startswith("#!"):
        parts = text[2:].split("\n", 1)[0].split()
        program = parts[0].rsplit("/", 1)[-1] if parts else ""
        if program == "env":
            program = next((p for p in parts[1:] if not p.startswith("-")), "")
        language = _SHEBANG_LANGUAGES.get(re.sub(r"[\d.]+$", "", program))
    return language


def format_mb(size: int) -> str:
    """A byte count as megabytes for people ("25 MB", "31.2 MB")."""
    mb = size / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.1f} MB"


def too_large(name: str, size: int, limit: int) -> UserError:
    """The refusal for a file over the size limit."""
    return UserError(
        "'{name}' is {size}; the limit is {limit}. "
        "Split it into smaller files or remove images, then upload again.",
        kind="too_large",
        params={"name": name, "size": format_mb(size), "limit": format_mb(limit)},
    )


def safe_filename(name: str, *, max_length: int = 100) -> str:
    """A file name safe to show and store: no folders, control or bidi characters, and a bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    # Format characters (Cf) include the right-to-left override used to disguise "exe.txt" as "txt.exe".
    name = "".join(
        " " if ch in "\t\n\r\v\f" else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\t\n\r\v\f"
    )
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" ")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not suffix or len(suffix) > 10 or " " in suffix:
        stem, suffix = name, ""
    suffix = f".{suffix}" if suffix else ""
    # Leading dots would hide the file or climb a folder ("..") if the name ever reaches a disk.
    stem = stem.strip(" .")
    if not stem:
        stem = "file"
    if stem.lower() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    limit = max(1, max_length - len(suffix))
    # Filesystems count bytes, not characters: 3 bytes per Japanese letter adds up.
    while len(stem) > limit or len((stem + suffix).encode("utf-8")) > 240:
        stem = stem[:-1]
    return stem.rstrip(" .") + suffix if stem.rstrip(" .") else "file" + suffix


def binary_description(data: bytes) -> str | None:
    """What a person would call this binary content ("a PNG image"), or None when it is not recognised."""
    for magic, offset, description in _BINARY_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return description
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "a zip archive"
    return None


def _refuse_binary(data: bytes) -> UserError:
    what = binary_description(data)
    detail = Msg(" (it looks like {what})", what=Msg(what)) if what else ""
    return UserError(
        "This file contains binary data{detail}, not text. Supported: {supported}.",
        kind="binary",
        params={"detail": detail, "supported": Msg(SUPPORTED_TYPES)},
    )


def _bad_encoding() -> UserError:
    return UserError(
        "I couldn't read this file's text: it isn't in a text encoding I know (UTF-8, UTF-16, "
        "Shift_JIS or EUC-JP). Save it as UTF-8 and upload it again.",
        kind="bad_encoding",
    )


def _too_many_controls(text: str) -> bool:
    sample = text[:_SAMPLE]
    return len(_BAD_CONTROLS.findall(sample)) > max(1, len(sample) // 100)


def _japanese_stats(text: str) -> tuple[float, int]:
    """(score, junk): the score is higher for text that reads as Japanese; junk counts characters no
    Japanese text would have. Wrong Shift_JIS/EUC-JP guesses give half-width kana, rare kanji and junk."""
    score = 0.0
    junk = 0
    for ch in text[:_SAMPLE]:
        code = ord(ch)
        if code < 0x80:
            continue
        if 0x3040 <= code <= 0x30FF:  # hiragana, katakana
            score += 2
        elif 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E:  # 。「」 and full-width forms
            score += 1
        elif 0xFF61 <= code <= 0xFF9F:  # half-width katakana: old systems use it, misreads produce it
            score -= 1
        else:
            kind = _jis_class(ch)
            if kind == "kanji1":
                score += 1
            elif kind == "other":
                junk += 1
                score -= 5 if 0xE000 <= code <= 0xF8FF else 1
    return score, junk


@functools.lru_cache(maxsize=8192)
def _jis_class(ch: str) -> str:
    """"kanji1" for common (level-1) kanji, "symbol" for JIS symbols and rarer kanji, else "other"."""
    try:
        lead = ch.encode("cp932")[0]
    except UnicodeEncodeError:
        return "other"
    if 0x88 <= lead <= 0x98:
        return "kanji1"
    if lead in (0x81, 0x82, 0x83, 0x84, 0x87) or 0x99 <= lead <= 0xFC:
        return "symbol"
    return "other"


def _plausible_japanese(text: str) -> bool:
    score, junk = _japanese_stats(text)
    non_ascii = sum(1 for ch in text[:_SAMPLE] if ord(ch) >= 0x80)
    if junk > non_ascii * 0.2:
        return False
    if score > 0:
        return True
    # Files written only in half-width katakana (old bank and ledger exports) score low but are real.
    half_width = sum(1 for ch in text[:_SAMPLE] if 0xFF61 <= ord(ch) <= 0xFF9F)
    return half_width >= non_ascii * 0.8


def _plausible_western(text: str) -> bool:
    sample = text[:_SAMPLE]
    if not sample:
        return True
    non_ascii = [ch for ch in sample if ord(ch) >= 0x80]
    letters = sum(ch.isalpha() for ch in non_ascii)
    return len(non_ascii) <= len(sample) * 0.3 and letters >= len(non_ascii) * 0.6


def _plausible_utf16(text: str) -> bool:
    sample = text[:_SAMPLE]
    good = sum(
        1 for ch in sample
        if ch.isprintable() or ch in "\t\n\r" or 0x3000 <= ord(ch) <= 0x9FFF or 0xFF01 <= ord(ch) <= 0xFF9F
    )
    return bool(sample) and good >= len(sample) * 0.98 and not _too_many_controls(text)


def _utf16_score(text: str) -> float:
    ascii_text = sum(1 for ch in text[:_SAMPLE] if ch.isascii() and (ch.isprintable() or ch in "\t\n\r"))
    return ascii_text + _japanese_stats(text)[0]


def _decode_utf16(data: bytes, *, final: bool = True) -> tuple[str, str] | None:
    """UTF-16 text without a BOM, in whichever byte order reads as text; None when neither does.

    With final=False, `data` is the head of a file and may end inside a character.
    """
    if final and len(data) % 2:
        return None
    candidates: list[tuple[float, str, str]] = []
    for order in ("utf-16-le", "utf-16-be"):
        try:
            text = codecs.getincrementaldecoder(order)().decode(data, final=final)
        except UnicodeDecodeError:
            continue
        if _plausible_utf16(text):
            candidates.append((_utf16_score(text), order, text))
    if not candidates:
        return None
    _, order, text = max(candidates)
    return text, order


def detect_and_decode(data: bytes) -> tuple[str, str]:
    """Decode text bytes, returning (text, encoding); raises UserError "binary" or "bad_encoding"."""
    data = bytes(data)
    if not data:
        return "", "utf-8"
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise _bad_encoding() from None
            if _too_many_controls(text):
                raise _refuse_binary(data)
            return text, encoding
    if b"\x00" in data:
        decoded = _decode_utf16(data)
        if decoded is not None:
            return decoded
        # Not UTF-16: a stray NUL or two (padding in exported logs) is tolerated below, many are binary.
    if b"\x1b$" in data and data.isascii():
        # ISO-2022-JP (old Japanese mail) is 7-bit, so it would also pass as UTF-8 full of escape codes.
        try:
            return data.decode("iso2022_jp"), "iso2022_jp"
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if _too_many_controls(text):
            raise _refuse_binary(data)
        return text, "utf-8"
    candidates: list[tuple[float, str, str]] = []
    for encoding in ("cp932", "euc_jp"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        candidates.append((_japanese_stats(text)[0], encoding, text))
    if candidates:
        _, encoding, text = max(candidates, key=lambda c: c[0])
        if _plausible_japanese(text) and not _too_many_controls(text):
            return text, encoding
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text and _plausible_western(text) and not _too_many_controls(text):
        return text, "cp1252"
    # Japanese UTF-16 without a BOM and without one ASCII character has no NUL bytes to give it away.
    decoded = _decode_utf16(data)
    if decoded is not None and _japanese_stats(decoded[0])[0] > len(decoded[0][:_SAMPLE]):
        return decoded
    if _too_many_controls(data[:_SAMPLE].decode("latin-1")):
        raise _refuse_binary(data)
    raise _bad_encoding()


def read_text(data: bytes) -> str:
    """Decode text bytes in UTF-8/16, Shift_JIS or EUC-JP; raises UserError "binary" or "bad_encoding"."""
    return detect_and_decode(data)[0]


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head and _decode_utf16(head, final=False) is not None:
        return False
    return _too_many_controls(head.decode("latin-1"))


def _looks_like_html(head: bytes) -> bool:
    start = head[:1024].decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(("<!doctype html", "<html"))


def _zip_names(data: bytes) -> list[str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def _unsupported(filename: str, what: str | None = None, hint: str = "") -> UserError:
    shown = safe_filename(filename)
    ext = extension(filename)
    if what:
        reason = Msg(
            "'{name}' looks like {what}, which I can't read.{hint}",
            name=shown,
            what=Msg(what),
            hint=Msg(hint) if hint else "",
        )
    elif ext:
        reason = Msg("I can't read {ext} files ('{name}').", ext=ext, name=shown)
    else:
        reason = Msg("I can't tell what kind of file '{name}' is.", name=shown)
    return UserError(
        "{reason} Supported: {supported}.",
        kind="unsupported_type",
        params={"reason": reason, "supported": Msg(SUPPORTED_TYPES)},
    )


def _corrupt(filename: str, what: str) -> UserError:
    return UserError(
        "'{name}' is not a valid {what}: it seems damaged or is another kind of file "
        "renamed. If it opens on your computer, save or export it as {what} again and upload that.",
        kind="corrupt",
        params={"name": safe_filename(filename), "what": Msg(what)},
    )


def sniff_kind(data: bytes, filename: str, *, any_text: bool = False) -> str:
    """The file's kind by content and name: pdf, docx, markdown, html, csv, code or text; refuses others.
    With `any_text` (code help), a file of an unknown type whose content is text is "text"."""
    data = bytes(data)
    head = data[:8192]
    ext = extension(filename)
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        names = _zip_names(data)
        if names is not None and "word/document.xml" in names:
            return "docx"
        if ext == ".docx":
            raise _corrupt(filename, "Word document (.docx)")
        if names is not None and any(n.startswith("xl/") for n in names):
            raise _unsupported(filename, "an Excel spreadsheet")
        if names is not None and any(n.startswith("ppt/") for n in names):
            raise _unsupported(filename, "a PowerPoint presentation")
        if ext in CODE_LANGUAGES or ext in _TEXT_LIKE:
            raise _refuse_binary(data)
        raise _unsupported(filename, "a zip archive")
    if head.startswith(_OLE_MAGIC) and _ENCRYPTED_PACKAGE in data:
        # Password-protected .docx/.xlsx files are not zips but OLE containers holding the encrypted zip.
        raise UserError(
            "'{name}' is a password-protected Office document: remove the password and upload it again.",
            kind="encrypted",
            params={"name": safe_filename(filename)},
        )
    if ext == ".pdf":
        raise _corrupt(filename, "PDF")
    if ext == ".docx":
        if head.startswith(_OLE_MAGIC):
            raise _unsupported(filename, "an old-style Word document (.doc)", " Save it as .docx in Word.")
        raise _corrupt(filename, "Word document (.docx)")
    if ext in (".doc", ".rtf", ".odt", ".pages"):
        raise _unsupported(filename, Msg("a {ext} document", ext=ext), " Save it as .docx or PDF.")
    base = PurePosixPath(filename.replace("\\", "/")).name.lower()
    known_text = (
        ext in _TEXT_LIKE
        or ext in CODE_LANGUAGES
        or base in CODE_FILENAMES
        or ext == ""
    )
    binary = _looks_binary(head)
    if not known_text and (binary or not any_text):
        raise _unsupported(filename, binary_description(head) if binary else None)
    if binary:
        raise _refuse_binary(data)
    if ext in HTML_EXTENSIONS:
        return "html"
    if ext in MARKDOWN_EXTENSIONS:
        return "markdown"
    if ext in CSV_EXTENSIONS:
        return "csv"
    if ext in CODE_LANGUAGES or base in CODE_FILENAMES:
        return "code"
    if _looks_like_html(head):
        return "html"
    if ext == "" and head.startswith(b"#!"):
        return "code"
    return "text"
