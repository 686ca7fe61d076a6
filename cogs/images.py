"""Images: /imagine and /image edit, with Again and Vary buttons that keep working after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.i18n import Msg
from bot.image_prep import MAX_INPUT_BYTES, SIZE_NAMES
from bot.images import ImageResult, ImageService, ProgressSink, Requester
from bot.limits import Limits
from bot.text import truncate
from bot.ui import NO_MENTIONS, Throttled, locale_of, to_files
from cogs.access import admit_interaction
from cogs.errors import describe, reply_error

SIZE_CHOICES = [app_commands.Choice(name=name, value=name) for name in SIZE_NAMES]
QUALITY_CHOICES = [
    app_commands.Choice(name="low (fastest)", value="low"),
    app_commands.Choice(name="medium", value="medium"),
    app_commands.Choice(name="high (slowest)", value="high"),
]
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
TICK_SECONDS = 5.0
ICONS = {"generate": "🎨", "edit": "🖌️", "vary": "🔀"}

Work = Callable[[ProgressSink], Awaitable[ImageResult]]


def requester(interaction: discord.Interaction) -> Requester:
    """Who is asking, and where."""
    return Requester(interaction.user.id, interaction.channel_id or interaction.user.id, interaction.guild_id)


def check_upload(attachment: discord.Attachment, what: str) -> None:
    """Refuse, before downloading, an attachment that is plainly not an image or too large."""
    kind = (attachment.content_type or "").split(";")[0].strip()
    suffix = PurePosixPath(attachment.filename).suffix.lower()
    if not kind.startswith("image/") and suffix not in IMAGE_EXTENSIONS:
        raise UserError(
            "The {what} `{name}` isn't an image: attach a PNG, JPEG, WebP or GIF file.",
            kind="not_image",
            params={"what": Msg(what), "name": attachment.filename},
        )
    if attachment.size > MAX_INPUT_BYTES:
        raise UserError(
            "The {what} is too large ({size} MB): keep it under {limit} MB.",
            kind="image_too_large",
            params={
                "what": Msg(what), "size": f"{attachment.size / (1024 * 1024):.1f}",
                "limit": MAX_INPUT_BYTES // (1024 * 1024),
            },
        )


def caption(result: ImageResult) -> str:
    """The reply text: the prompt, the revised prompt if any, the model and notes."""
    prompt = discord.utils.escape_markdown(truncate(result.prompt, 1200))
    lines = [f"{ICONS.get(result.kind, '🎨')} **{prompt}**"]
    if result.revised_prompt:
        lines.append(
            f"-# Revised prompt: {discord.utils.escape_markdown(truncate(result.revised_prompt, 500))}"
        )
    shown = len(result.images)
    details = [result.model, result.size_name, f"{shown} image{'s' if shown != 1 else ''}"]
    lines.append("-# " + " · ".join(d for d in details if d))
    lines.extend(f"-# ℹ️ {note}" for note in result.notes)
    return truncate("\n".join(lines), 2000)


def result_view(result: ImageResult) -> discord.ui.View | None:
    """Again (generations) and one Vary per image (models that edit or vary), as persistent buttons."""
    view = discord.ui.View(timeout=None)
    if result.can_again:
        view.add_item(AgainButton(result.generation_id))
    if result.can_vary:
        count = min(len(result.images), 4)
        for index in range(1, count + 1):
            view.add_item(VaryButton(result.generation_id, index, label="Vary" if count == 1 else None))
    return view if view.children else None


class Progress:
    """The deferred reply's text while images are made: what, how many are ready, seconds so far."""

    def __init__(self, interaction: discord.Interaction, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.ready = ""
        self.show = Throttled(
            lambda text: interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
        )

    def text(self) -> str:
        """The current progress line."""
        return f"{self.label}{self.ready} · {time.monotonic() - self.started:.0f} s"

    async def count(self, done: int, total: int) -> None:
        """Note how many images are ready."""
        self.ready = f" · {done}/{total} ready"
        await self.show(self.text())

    async def tick(self) -> None:
        """Keep the elapsed time fresh until cancelled."""
        await self.show(self.label)
        while True:
            await asyncio.sleep(TICK_SECONDS)
            await self.show(self.text())


class ImagesCog(commands.Cog):
    """Make and edit images in the channel."""

    image = app_commands.Group(name="image", description="Work on images")

    def __init__(self, bot: commands.Bot, images: ImageService, *, limits: Limits) -> None:
        self.bot = bot
        self.images = images
        self.limits = limits

    async def cog_load(self) -> None:
        """Listen for the buttons of every earlier result, including those sent before a restart."""
        self.bot.add_dynamic_items(AgainButton, VaryButton)

    async def cog_unload(self) -> None:
        """Stop listening for the buttons."""
        self.bot.remove_dynamic_items(AgainButton, VaryButton)

    @app_commands.command(name="imagine", description="Make images from a description")
    @app_commands.describe(
        prompt="What the image should show",
        size="The shape of the image (default square)",
        count="How many images, 1 to 4 (default 1)",
        quality="Higher is slower (default: the model's own choice)",
    )
    @app_commands.choices(size=SIZE_CHOICES, quality=QUALITY_CHOICES)
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        size: str = "square",
        count: app_commands.Range[int, 1, 4] = 1,
        quality: str | None = None,
    ) -> None:
        """Generate images and post them with Again and Vary buttons."""
        by = requester(interaction)
        label = f"🎨 Making {count} image{'s' if count > 1 else ''}…"
        await self.run(
            interaction,
            label,
            lambda progress: self.images.generate(
                prompt, by, size=size, count=count, quality=quality, on_progress=progress
            ),
            images=count,
        )

    @image.command(name="edit", description="Edit an uploaded image following a description")
    @app_commands.describe(
        image="The image to edit (PNG, JPEG, WebP or GIF)",
        prompt="What to change, or what the edited image should show",
        mask="Optional PNG the size of the image: transparent where the edit goes, opaque elsewhere",
    )
    async def image_edit(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, 4000],
        mask: discord.Attachment | None = None,
    ) -> None:
        """Edit an uploaded image, optionally only where a mask is transparent."""
        check_upload(image, "image")
        if mask is not None:
            check_upload(mask, "mask")
        by = requester(interaction)

        async def work(_: ProgressSink) -> ImageResult:
            source = await image.read()
            mask_bytes = await mask.read() if mask is not None else None
            return await self.images.edit(source, prompt, by, mask=mask_bytes)

        await self.run(interaction, "🖌️ Editing the image…", work)

    async def again(self, interaction: discord.Interaction, generation_id: int) -> None:
        """The Again button: the same prompt and options, new images."""
        by = requester(interaction)
        await self.run(
            interaction,
            "🎨 Making new images…",
            lambda progress: self.images.again(generation_id, by, on_progress=progress),
        )

    async def vary(self, interaction: discord.Interaction, generation_id: int, index: int) -> None:
        """A Vary button: a variation of one image of the message it is on."""
        by = requester(interaction)
        attachments = interaction.message.attachments if interaction.message else []
        source = next((a for a in attachments if a.filename == f"image-{index}.png"), None)

        async def work(_: ProgressSink) -> ImageResult:
            if source is None:
                raise UserError("That image is no longer attached to the message.", kind="not_found")
            return await self.images.vary(generation_id, await source.read(), by)

        await self.run(interaction, f"🔀 Making a variation of image {index}…", work)

    async def run(self, interaction: discord.Interaction, label: str, work: Work, *, images: int = 1) -> None:
        """Defer at once, show progress, then the images with their buttons (or the error in their place)."""
        try:
            await admit_interaction(self.limits, "images", interaction, images=images)
            if not interaction.response.is_done():
                await interaction.response.defer(thinking=True)
            progress = Progress(interaction, label)
            ticker = asyncio.create_task(progress.tick())
            try:
                result = await work(progress.count)
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            files = await self.images.for_upload(result, interaction.filesize_limit)
            await interaction.edit_original_response(
                content=caption(result),
                attachments=to_files(files),
                view=result_view(result),
                allowed_mentions=NO_MENTIONS,
            )
        except Exception as exc:  # buttons have no tree error handler: one path for both here
            name = interaction.command.qualified_name if interaction.command else "image button"
            text = describe(exc, context=f"in {name}", locale=locale_of(interaction))
            await reply_error(interaction, text)


def _cog(interaction: discord.Interaction) -> ImagesCog:
    cog = interaction.client.get_cog(ImagesCog.__cog_name__)  # type: ignore[attr-defined]
    if not isinstance(cog, ImagesCog):
        raise UserError("Images are switched off on this bot right now.", kind="unavailable")
    return cog


class AgainButton(discord.ui.DynamicItem[discord.ui.Button], template=r"img:again:(?P<gen>\d+)"):
    """Again: the generation id lives in the custom_id, so the button survives restarts."""

    def __init__(self, generation_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Again",
                emoji="🔁",
                style=discord.ButtonStyle.primary,
                custom_id=f"img:again:{generation_id}",
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> AgainButton:
        """Rebuild the button from a click."""
        return cls(int(match["gen"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Make new images with the same prompt."""
        try:
            cog = _cog(interaction)
        except UserError as exc:
            await reply_error(interaction, exc.message)
            return
        await cog.again(interaction, self.generation_id)


class VaryButton(discord.ui.DynamicItem[discord.ui.Button], template=r"img:vary:(?P<gen>\d+):(?P<index>\d)"):
    """Vary one image: the generation id and image number live in the custom_id."""

    def __init__(self, generation_id: int, index: int, *, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or f"Vary {index}",
                emoji="🔀",
                style=discord.ButtonStyle.secondary,
                custom_id=f"img:vary:{generation_id}:{index}",
            )
        )
        self.generation_id = generation_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> VaryButton:
        """Rebuild the button from a click."""
        return cls(int(match["gen"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Make a variation of this image."""
        try:
            cog = _cog(interaction)
        except UserError as exc:
            await reply_error(interaction, exc.message)
            return
        await cog.vary(interaction, self.generation_id, self.index)
