"""Data deletion: everything stored about one user, for /forget-me and `teambot purge --user ID`."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.errors import UserError
from bot.i18n import t
from bot.limits import month_start
from bot.store import Store, UserFootprint

if TYPE_CHECKING:
    from bot.documents import Documents

NOTHING_STORED = "I don't store anything about you."
DOCUMENTS_UNAVAILABLE = (
    "I can't reach the document index right now, so I deleted nothing. Try again in a few minutes, or "
    "choose to keep your documents to delete everything else now."
)
SUMMARY_LINES = (
    ("turns", "• {count} of your messages in my conversation memory (every server and DM)"),
    ("answers", "• {count} of my answers to them"),
    ("summaries", "• {count} conversation summaries that include them (rebuilt without you)"),
    ("images", "• {count} records of images you made (prompts included)"),
    ("usage_rows", "• {count} usage records: kept only as anonymous totals, so server budgets stay right "
                   "(this month's stay linked to you until the month ends, so your own limits do too)"),
    ("documents", "• {count} documents you uploaded, if you choose to delete them too"),
    ("settings_changes", "• your name on {count} server setting changes (the changes themselves stay)"),
)
DONE_LINES = (
    ("turns", "• {count} of your messages in my conversation memory"),
    ("answers", "• {count} of my answers to them"),
    ("summaries", "• {count} conversation summaries that included them"),
    ("images", "• {count} records of images you made"),
    ("usage_rows", "• {count} usage records: anonymous totals now, this month's when the month ends"),
    ("documents", "• {count} documents you uploaded, with their search index"),
    ("settings_changes", "• your name on {count} server setting changes"),
)


class Forgetter:
    """Finds and deletes what the store and the document index hold about a user."""

    def __init__(self, store: Store, documents: Documents) -> None:
        self.store = store
        self.documents = documents

    async def footprint(self, user_id: int) -> UserFootprint:
        """What is stored about the user now."""
        return await self.store.user_footprint(user_id)

    async def forget(self, user_id: int, *, documents: bool) -> UserFootprint:
        """Delete it all (their documents only when `documents`); returns what was removed."""
        removed = []
        if documents and await self.store.documents_uploaded_by(user_id):  # else the index isn't needed
            try:
                library = await self.documents.library()
            except UserError as exc:  # nothing deleted yet: say so, and what can be done now
                raise UserError(DOCUMENTS_UNAVAILABLE, kind="documents_unavailable") from exc
            removed = await library.forget_uploader(user_id)
        # Their usage this month stays linked to them until it ends, so /forget-me doesn't reset a limit.
        done = await self.store.forget_user(user_id, keep_since=month_start(time.time()))
        return replace(done, documents=len(removed))


async def anonymize_due(store: Store) -> int:
    """Fold the usage that forgotten users kept linked for their budgets, once its month is over."""
    return await store.anonymize_due_usage(month_start(time.time()))


def footprint_lines(found: UserFootprint, locale: object = None, *, done: bool = False) -> list[str]:
    """One line per kind of data stored (or, with `done`, deleted), in the reader's language."""
    templates = DONE_LINES if done else SUMMARY_LINES
    return [t(text, locale, count=getattr(found, name)) for name, text in templates if getattr(found, name)]


def is_empty(found: UserFootprint) -> bool:
    """Whether nothing at all is stored."""
    return not any(getattr(found, name) for name, _ in SUMMARY_LINES)


async def purge(settings: Settings, user_id: int, *, keep_documents: bool, dry_run: bool) -> int:
    """`teambot purge --user ID`: print what is stored about the user, then delete it."""
    from bot.services import Services

    services = await Services.create(settings)
    try:
        forgetter = Forgetter(services.store, services.documents)
        found = await forgetter.footprint(user_id)
        if is_empty(found):
            print(f"Nothing is stored about user {user_id}.")
            return 0
        print(
            f"Stored about user {user_id}: {found.turns} messages, {found.answers} answers to them, "
            f"{found.summaries} summaries including them, {found.images} image records, "
            f"{found.usage_rows} usage records, {found.documents} documents, "
            f"{found.settings_changes} server setting changes under their name."
        )
        if dry_run:
            print("Dry run: nothing deleted.")
            return 0
        done = await forgetter.forget(user_id, documents=not keep_documents)
    finally:
        await services.aclose()
    print(
        f"Deleted {done.turns} messages, {done.answers} answers, {done.images} image records and "
        f"{done.documents} documents; cleared {done.summaries} summaries; anonymised {done.usage_rows} "
        "usage records." + (" Documents kept." if keep_documents else "")
    )
    return 0
