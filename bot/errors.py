"""The one kind of error a user is ever shown."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can understand and act on; its text is shown as is.

    `kind` is a short stable tag ("rate_limited", "unsupported_type", ...) for tests,
    logs and translations; the text never contains secrets or raw provider output.
    """

    def __init__(self, message: str, *, kind: str = "error", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message
