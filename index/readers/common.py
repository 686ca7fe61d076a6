"""What every reader shares: the parsed-document type, text clean-up and decoding, and common refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llama_index.core.schema import Document

from bot.errors import UserError
from bot.files import detect_and_decode
from bot.i18n import Msg

BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")


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


def tidy(text: str) -> str:
    """Printable text with normalised line ends and no runs of blank lines."""
    text = BAD_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def decode(data: bytes) -> tuple[str, str]:
    """Text in its detected encoding, without a byte-order mark, and the encoding's name."""
    text, encoding = detect_and_decode(data)
    return text.lstrip("\ufeff"), encoding


def corrupt(name: str, what: str, detail: str = "") -> UserError:
    """The refusal for a damaged or incomplete file of a kind (`what`), with an optional detail."""
    shown = Msg(" ({detail})", detail=Msg(detail)) if detail else ""
    return UserError(
        "I couldn't open '{name}': it looks damaged or incomplete{detail}. "
        "If it opens on your computer, save or export it as {what} again and upload that.",
        kind="corrupt",
        params={"name": name, "detail": shown, "what": Msg(what)},
    )


def encrypted(name: str, what: str) -> UserError:
    """The refusal for a password-protected file of a kind (`what`)."""
    return UserError(
        "'{name}' is a password-protected {what}: remove the password and upload it again.",
        kind="encrypted",
        params={"name": name, "what": Msg(what)},
    )
