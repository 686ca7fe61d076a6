"""Images: the ImageService that generates, edits and varies images through the provider and records
each generation (the Pillow work it calls is in bot/image_prep.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import UserError
from bot.image_prep import (
    MAX_COUNT,
    ImageModel,
    fit_files,
    image_model,
    make_grid,
    prepare_edit,
    to_png,
)
from bot.llm import LLM, GeneratedImage, Who
from bot.server_settings import ServerSettings
from bot.store import GenerationRecord, Store

ProgressSink = Callable[[int, int], Awaitable[None]]


# --- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for images, and where."""

    user_id: int
    channel_id: int
    guild_id: int | None

    def who(self) -> Who:
        """The usage owner of the model call."""
        return Who(self.guild_id, self.user_id, "images")


@dataclass(slots=True)
class ImageResult:
    """A finished generation, edit or variation, ready to render."""

    generation_id: int
    kind: str
    prompt: str
    model: str
    images: list[bytes]
    grid: bytes | None = None
    revised_prompt: str | None = None
    size_name: str = ""
    can_again: bool = False
    can_vary: bool = False
    notes: list[str] = field(default_factory=list)

    def files(self) -> list[tuple[str, bytes]]:
        """The attachments: image-1.png … and grid.png when there is more than one image."""
        named = [(f"image-{i}.png", png) for i, png in enumerate(self.images, start=1)]
        return [*named, ("grid.png", self.grid)] if self.grid else named


class ImageService:
    """Generates, edits and varies images through the provider and records each generation."""

    def __init__(
        self, store: Store, llm: LLM, settings: Settings, *, server: ServerSettings | None = None
    ) -> None:
        self.store = store
        self.llm = llm
        self.settings = settings
        self.server = server

    async def model_name(self, guild_id: int | None) -> str:
        """The image model a server uses now (its /settings value, else IMAGE_MODEL)."""
        return await self.server.image_model(guild_id) if self.server else self.settings.image_model

    async def generate(
        self,
        prompt: str,
        by: Requester,
        *,
        size: str = "square",
        count: int = 1,
        quality: str | None = None,
        on_progress: ProgressSink | None = None,
    ) -> ImageResult:
        """Make `count` images from a prompt."""
        name = await self.model_name(by.guild_id)
        model = image_model(name)
        prompt = self._check_prompt(prompt, model)
        count = max(1, min(MAX_COUNT, count))
        with _timeout_hint():
            made = await self.llm.generate_images(
                prompt,
                who=by.who(),
                size=model.size(size),
                n=count,
                quality=model.quality(quality),
                model=name,
                on_progress=on_progress,
            )
        result = await self._finish("generate", prompt, by, made, name, size=size, quality=quality)
        result.size_name, result.can_again = size, True
        if len(made) < count:
            result.notes.append(f"Only {len(made)} of the {count} images could be made this time.")
        return result

    async def again(
        self, generation_id: int, by: Requester, on_progress: ProgressSink | None = None
    ) -> ImageResult:
        """The same prompt, size, count and quality as an earlier generation, new images."""
        earlier = await self._generation(generation_id)
        if earlier.kind != "generate":
            raise UserError("Only generated images can be made again: use Vary instead.", kind="not_found")
        return await self.generate(
            earlier.prompt,
            by,
            size=earlier.size,
            count=earlier.count,
            quality=earlier.quality,
            on_progress=on_progress,
        )

    async def edit(
        self, image: bytes, prompt: str, by: Requester, *, mask: bytes | None = None
    ) -> ImageResult:
        """Edit an uploaded image following a prompt, only where the mask is transparent if one is given."""
        name = await self.model_name(by.guild_id)
        model = image_model(name)
        if model.edits is False:
            raise UserError(
                "`{name}` can't edit images. An admin can set IMAGE_MODEL to gpt-image-1 or dall-e-2 "
                "to use /image edit.",
                kind="no_edit_support",
                params={"name": name},
            )
        prompt = self._check_prompt(prompt, model)
        ready = await asyncio.to_thread(prepare_edit, image, mask, model)
        with _timeout_hint():
            made = await self.llm.edit_image(
                ready.image_png, prompt, who=by.who(), size=ready.size, mask_png=ready.mask_png, model=name
            )
        return await self._finish("edit", prompt, by, made, name, size=ready.size)

    async def vary(self, generation_id: int, image: bytes, by: Requester) -> ImageResult:
        """A variation of one image of an earlier result (variations endpoint, or an edit with its prompt)."""
        earlier = await self._generation(generation_id)
        name = await self.model_name(by.guild_id)
        model = image_model(name)
        if not model.can_vary:
            raise UserError(
                "`{name}` can't make variations. An admin can set IMAGE_MODEL to gpt-image-1 or dall-e-2.",
                kind="no_edit_support",
                params={"name": name},
            )
        ready = await asyncio.to_thread(prepare_edit, image, None, model)
        with _timeout_hint():
            if model.variations:
                made = await self.llm.vary_image(ready.image_png, who=by.who(), size=ready.size, model=name)
            else:
                made = await self.llm.edit_image(
                    ready.image_png,
                    f"A new variation of this image, same subject and style: {earlier.prompt}",
                    who=by.who(),
                    size=ready.size,
                    model=name,
                )
        return await self._finish("vary", earlier.prompt, by, made, name, size=ready.size)

    async def for_upload(self, result: ImageResult, limit: int) -> list[tuple[str, bytes]]:
        """The result's files within an upload limit; a note is added when any had to shrink."""
        files, notes = await asyncio.to_thread(fit_files, result.files(), limit)
        result.notes.extend(notes)
        return files

    async def _finish(
        self,
        kind: str,
        prompt: str,
        by: Requester,
        made: list[GeneratedImage],
        name: str,
        *,
        size: str,
        quality: str | None = None,
    ) -> ImageResult:
        if not made:
            raise UserError(
                "The image service answered without an image. Please try again.", kind="bad_response"
            )
        pngs = await asyncio.to_thread(lambda: [to_png(m.png) for m in made])
        grid = await asyncio.to_thread(make_grid, pngs) if len(pngs) > 1 else None
        generation_id = await self.store.add_generation(
            guild_id=by.guild_id,
            channel_id=by.channel_id,
            user_id=by.user_id,
            kind=kind,
            prompt=prompt,
            model=name,
            size=size,
            quality=quality,
            count=len(pngs),
        )
        revised = next(
            (m.revised_prompt for m in made if m.revised_prompt and m.revised_prompt != prompt), None
        )
        return ImageResult(
            generation_id, kind, prompt, name, pngs, grid, revised, can_vary=image_model(name).can_vary
        )

    async def _generation(self, generation_id: int) -> GenerationRecord:
        earlier = await self.store.generation(generation_id)
        if earlier is None:
            raise UserError("I no longer have the details of that image.", kind="not_found")
        return earlier

    @staticmethod
    def _check_prompt(prompt: str, model: ImageModel) -> str:
        prompt = prompt.strip()
        if not prompt:
            raise UserError("Describe the image you want: the prompt can't be empty.", kind="empty")
        if len(prompt) > model.max_prompt:
            raise UserError(
                "The prompt is too long for this model: keep it under {limit} characters.",
                kind="too_long",
                params={"limit": model.max_prompt},
            )
        return prompt


@contextlib.contextmanager
def _timeout_hint() -> Iterator[None]:
    """Give a provider timeout an image-specific hint (images take far longer than chat)."""
    try:
        yield
    except UserError as exc:
        if exc.kind != "timeout":
            raise
        raise UserError(
            "Making the image took longer than the provider's time limit. Try again, or ask for fewer "
            "images or a lower quality (an admin can raise REQUEST_TIMEOUT).",
            kind="timeout",
        ) from exc
