"""Secrets masked in every log record and in the rendered output (`__main__` sets up discord.py's format)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replace known secret values with *** in a record's message and arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets (rendering the message first so arguments are covered too)."""
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True

    def mask(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class MaskedFormatter(logging.Formatter):
    """Another formatter's output with secrets masked, whatever that formatter renders itself."""

    def __init__(self, inner: logging.Formatter, redact: RedactSecrets) -> None:
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's text, masked."""
        return self.redact.mask(self.inner.format(record))


def mask_secrets(secrets: Iterable[str] = ()) -> None:
    """Mask secrets on the root logger's handlers (call after the handlers are set up)."""
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
        # discord.py's colour formatter (a TTY, or any Docker container) renders tracebacks afresh after
        # the filters ran, so a crash report would show the secrets the filter masked: mask the output too.
        handler.setFormatter(MaskedFormatter(handler.formatter or logging.Formatter(), redact))
