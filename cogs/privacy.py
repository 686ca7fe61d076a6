"""Data deletion: /forget-me removes what the bot stores about the caller, after a confirmation."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.forget import NOTHING_STORED, Forgetter, anonymize_due, footprint_lines, is_empty
from bot.i18n import t
from bot.ui import locale_of

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 120.0


class ForgetView(discord.ui.View):
    """Delete (with or without documents) or cancel, for the person who asked; `choice` says which."""

    def __init__(
        self, user_id: int, *, documents: int, locale: object, timeout: float = CONFIRM_TIMEOUT
    ) -> None:
        super().__init__(timeout=timeout)
        self.user_id = user_id
        self.locale = locale
        self.choice: str | None = None
        if documents:
            self.everything.label = t("Delete all, with my documents", locale)
            self.keep_documents.label = t("Delete, keep my documents", locale)
        else:
            self.everything.label = t("Delete", locale)
            self.remove_item(self.keep_documents)
        self.cancel.label = t("Cancel", locale)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the person who asked may answer."""
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                t("This question isn't for you.", locale_of(interaction)), ephemeral=True
            )
            return False
        return True

    async def _choose(self, interaction: discord.Interaction, choice: str) -> None:
        self.choice = choice
        await interaction.response.edit_message(view=None)
        self.stop()

    @discord.ui.button(label="Delete all", style=discord.ButtonStyle.danger)
    async def everything(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Delete everything, documents included."""
        await self._choose(interaction, "all")

    @discord.ui.button(label="Keep documents", style=discord.ButtonStyle.primary)
    async def keep_documents(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Delete everything except the documents."""
        await self._choose(interaction, "keep_documents")

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Delete nothing."""
        await self._choose(interaction, "cancel")


class PrivacyCog(commands.Cog):
    """What the bot keeps about you, and deleting it."""

    def __init__(self, forgetter: Forgetter) -> None:
        self.forgetter = forgetter

    async def cog_load(self) -> None:
        """Start folding forgotten users' usage into anonymous totals as months end (now, then every 6 h)."""
        self.fold_usage.start()

    async def cog_unload(self) -> None:
        """Stop the folding."""
        self.fold_usage.cancel()

    @tasks.loop(hours=6)
    async def fold_usage(self) -> None:
        """Anonymise the usage forgotten users kept linked for their budgets, once its month is over."""
        try:
            folded = await anonymize_due(self.forgetter.store)
        except Exception as exc:  # tried again in 6 hours; the rows stay as they were
            log.warning("could not fold forgotten users' usage: %s", type(exc).__name__)
            return
        if folded:
            log.info("folded %d usage records of forgotten users into anonymous totals", folded)

    @app_commands.command(name="forget-me", description="Delete everything the bot stores about you")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Show what is stored about the caller, then delete it once they confirm."""
        locale = locale_of(interaction)
        user_id = interaction.user.id
        found = await self.forgetter.footprint(user_id)
        if is_empty(found):
            await interaction.response.send_message(t(NOTHING_STORED, locale), ephemeral=True)
            return
        question = "\n".join(
            [
                t("This deletes what I store about you:", locale),
                *footprint_lines(found, locale),
                t("Messages already posted in Discord are not affected. This can't be undone.", locale),
            ]
        )
        view = ForgetView(user_id, documents=found.documents, locale=locale)
        await interaction.response.send_message(question, view=view, ephemeral=True)
        if await view.wait() or view.choice in (None, "cancel"):
            cancelled = t("Cancelled: nothing was deleted.", locale)
            await interaction.edit_original_response(content=cancelled, view=None)
            return
        done = await self.forgetter.forget(user_id, documents=view.choice == "all")
        log.info("user %s deleted their data (documents: %s)", user_id, view.choice == "all")
        lines = footprint_lines(done, locale, done=True)
        text = "\n".join([t("Done. I deleted:", locale), *lines]) if lines else t("Done.", locale)
        if found.documents and view.choice != "all":
            text += "\n" + t("Your {count} documents were kept.", locale, count=found.documents)
        await interaction.edit_original_response(content=text[:2000], view=None)
