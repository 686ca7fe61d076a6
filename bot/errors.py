"""The one kind of error a user is ever shown."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import t


class UserError(Exception):
    """A problem the user can understand and act on; its text is shown as is.

    `kind` is a short stable tag ("rate_limited", "unsupported_type", ...) for tests,
    logs and translations; the text never contains secrets or raw provider output.
    With `params`, `message` is an English template ("'{name}' is empty.") that the catalogs in
    bot/i18n translate; `.message` is always the English text, `.localized(locale)` the reader's.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        retry_after: float | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.template = message
        self.params = dict(params or {})
        self.message = t(message, "en", **self.params) if self.params else message
        super().__init__(self.message)
        self.kind = kind
        self.retry_after = retry_after

    def localized(self, locale: object = None) -> str:
        """The message in the locale's language (English when the catalog lacks it)."""
        return t(self.template, locale, **self.params)

    def __str__(self) -> str:
        return self.message
