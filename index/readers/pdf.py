"""PDF: one section per page of extractable text, via pypdf."""

from __future__ import annotations

import io
import logging

import pypdf
from llama_index.core.schema import Document
from pypdf.errors import DependencyError, FileNotDecryptedError

from bot.errors import UserError
from bot.files import safe_filename
from index.readers.common import ParsedDocument, corrupt, encrypted, tidy

log = logging.getLogger(__name__)


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    """A PDF as one section per page with text; refuses encrypted, damaged or unreadable files."""
    # PDFReader (llama-index-readers-file) retries a broken file three times, fails the whole file on one bad
    # page and can't tell "encrypted" from "damaged"; pypdf is driven directly so each gets its own message.
    name = safe_filename(filename)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise encrypted(name, "PDF")
        count = len(reader.pages)
    except UserError:
        raise
    except (DependencyError, FileNotDecryptedError):
        raise encrypted(name, "PDF") from None
    except Exception as error:  # pypdf raises many types on malformed input
        log.info("unreadable PDF %r: %r", name, error)
        raise corrupt(name, "PDF") from None
    if count == 0:
        raise corrupt(name, "PDF", "it has no pages")
    sections: list[Document] = []
    failures = 0
    for number in range(1, count + 1):
        try:
            text = reader.pages[number - 1].extract_text()
        except (DependencyError, FileNotDecryptedError):
            raise encrypted(name, "PDF") from None
        except Exception as error:  # one bad page should not lose the others
            log.info("unreadable page %d of %r: %r", number, name, error)
            failures += 1
            continue
        text = tidy(text or "")
        if text:
            sections.append(Document(text=text, metadata={"page": number}))
    if failures == count:
        raise corrupt(name, "PDF")
    return ParsedDocument("pdf", sections, pages=count)
