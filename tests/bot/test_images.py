"""The images core: size names, input preparation, grids, fitting uploads, and the ImageService."""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image

from bot.errors import UserError
from bot.image_prep import (
    DALL_E_2,
    DALL_E_3,
    GPT_IMAGE,
    GRID_GAP,
    OTHER,
    UPLOAD_MARGIN,
    fit_files,
    fit_png,
    image_model,
    make_grid,
    open_image,
    prepare_edit,
)
from bot.images import ImageService, Requester
from bot.llm import LLM
from bot.store import Store
from tests.conftest import make_settings
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI

ALICE = Requester(user_id=11, channel_id=22, guild_id=33)


# --- builders --------------------------------------------------------------------------------


def png(width: int, height: int, colour: tuple[int, ...] = (200, 40, 40, 255), mode: str = "RGBA") -> bytes:
    """A solid PNG."""
    out = io.BytesIO()
    Image.new(mode, (width, height), colour[: len(mode)]).save(out, format="PNG")
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress (random pixels)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG")
    return out.getvalue()


def jpeg_rotated() -> bytes:
    """A 40×20 JPEG, red left and blue right, whose EXIF says: turn me 90° clockwise (orientation 6)."""
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def webp(width: int = 30, height: int = 30) -> bytes:
    """A WebP image with an alpha channel."""
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 10, 128)).save(out, format="WEBP", lossless=True)
    return out.getvalue()


def animated_gif() -> bytes:
    """Two frames: green first, then blue."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels."""
    data = bytearray(png(1, 1))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def mask_png(width: int, height: int, *, transparent: bool = True) -> bytes:
    """An opaque mask with a transparent top-left quarter (or no transparency at all)."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    if transparent:
        mask.paste((0, 0, 0, 0), (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- models and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-image-1", ("1024x1024", "1024x1536", "1536x1024")),
        ("dall-e-3", ("1024x1024", "1024x1792", "1792x1024")),
        ("dall-e-2", ("1024x1024", "1024x1024", "1024x1024")),
        ("stable-diffusion-xl", ("1024x1024", "768x1024", "1024x768")),
    ],
)
def test_size_names_map_to_what_each_model_accepts(name: str, expected: tuple[str, ...]) -> None:
    model = image_model(name)
    assert tuple(model.size(s) for s in ("square", "portrait", "landscape")) == expected


def test_capabilities_per_model() -> None:
    assert (GPT_IMAGE.edits, GPT_IMAGE.can_vary, GPT_IMAGE.quality("high")) == (True, True, "high")
    assert (DALL_E_3.edits, DALL_E_3.can_vary, DALL_E_3.quality("high")) == (False, False, "hd")
    assert DALL_E_2.variations and DALL_E_2.square_input and DALL_E_2.quality("high") is None
    assert OTHER.edits is None and not OTHER.can_vary


def test_closest_size_follows_the_shape() -> None:
    assert GPT_IMAGE.closest_size(3000, 2000) == "1536x1024"
    assert GPT_IMAGE.closest_size(900, 1600) == "1024x1536"
    assert DALL_E_3.closest_size(500, 510) == "1024x1024"


# --- reading inputs --------------------------------------------------------------------------


def test_jpeg_exif_orientation_is_applied() -> None:
    image = open_image(jpeg_rotated())
    assert image.mode == "RGBA" and image.size == (20, 40)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_webp_keeps_its_transparency() -> None:
    image = open_image(webp())
    assert image.mode == "RGBA" and image.getpixel((5, 5))[3] == 128


def test_animated_gif_gives_its_first_frame() -> None:
    image = open_image(animated_gif())
    assert image.mode == "RGBA" and image.getpixel((8, 8))[:3] == (0, 255, 0)


def test_not_an_image_is_refused_clearly() -> None:
    with pytest.raises(UserError) as err:
        open_image(b"%PDF-1.7 definitely not a picture")
    assert err.value.kind == "not_image" and "PNG, JPEG, WebP or GIF" in err.value.message


def test_truncated_image_is_called_damaged() -> None:
    data = noise_png(64, 64)
    with pytest.raises(UserError) as err:
        open_image(data[: len(data) // 2])
    assert err.value.kind == "corrupt_image" and "damaged" in err.value.message


@pytest.mark.parametrize("side", [9000, 100_000])
def test_decompression_bombs_are_refused_before_decoding(side: int) -> None:
    with pytest.raises(UserError) as err:
        open_image(bomb_png(side, side))
    assert err.value.kind == "image_too_large" and "megapixels" in err.value.message


def test_too_many_bytes_is_refused() -> None:
    with pytest.raises(UserError) as err:
        open_image(b"\x89PNG" + b"\0" * (26 * 1024 * 1024))
    assert err.value.kind == "image_too_large"


# --- preparing edits -------------------------------------------------------------------------


def test_huge_image_is_resized_to_what_the_model_accepts() -> None:
    ready = prepare_edit(png(5000, 3000, mode="RGB"), None, GPT_IMAGE)
    image = decode(ready.image_png)
    assert ready.size == "1536x1024"
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.size == (1536, 922) and (ready.width, ready.height) == image.size


def test_huge_jpeg_is_decoded_small() -> None:
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (1, 2, 3)).save(out, format="JPEG")
    ready = prepare_edit(out.getvalue(), None, GPT_IMAGE)
    assert max(decode(ready.image_png).size) <= 1536


def test_prepared_image_fits_the_models_byte_limit() -> None:
    model = dataclasses.replace(GPT_IMAGE, max_input_bytes=150_000)
    ready = prepare_edit(noise_png(1200, 800), None, model)
    assert len(ready.image_png) <= 150_000 and decode(ready.image_png).width < 1200


def test_dall_e_2_gets_a_square_crop() -> None:
    ready = prepare_edit(png(300, 200), mask_png(300, 200), DALL_E_2)
    assert decode(ready.image_png).size == (200, 200)
    assert ready.mask_png is not None and decode(ready.mask_png).size == (200, 200)


def test_mask_is_resized_to_the_image() -> None:
    ready = prepare_edit(png(120, 80), mask_png(30, 20), GPT_IMAGE)
    assert ready.mask_png is not None
    mask = decode(ready.mask_png)
    assert mask.size == (120, 80) and mask.mode == "RGBA"
    assert mask.getpixel((5, 5))[3] == 0 and mask.getpixel((110, 70))[3] == 255


def test_mask_without_transparency_is_refused() -> None:
    with pytest.raises(UserError) as err:
        prepare_edit(png(64, 64), mask_png(64, 64, transparent=False), GPT_IMAGE)
    assert err.value.kind == "bad_mask" and "transparent" in err.value.message


def test_a_jpeg_mask_cannot_carry_transparency() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="JPEG")
    with pytest.raises(UserError) as err:
        prepare_edit(png(64, 64), out.getvalue(), GPT_IMAGE)
    assert err.value.kind == "bad_mask"


# --- results ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [
        (2, (64, 64), (2 * 64 + 3 * GRID_GAP, 64 + 2 * GRID_GAP)),
        (3, (64, 64), (2 * 64 + 3 * GRID_GAP, 2 * 64 + 3 * GRID_GAP)),
        (4, (64, 96), (2 * 64 + 3 * GRID_GAP, 2 * 96 + 3 * GRID_GAP)),
    ],
)
def test_grid_dimensions(count: int, size: tuple[int, int], expected: tuple[int, int]) -> None:
    grid = decode(make_grid([png(*size) for _ in range(count)]))
    assert grid.format == "PNG" and grid.size == expected


def test_grid_of_large_images_stays_a_preview() -> None:
    grid = decode(make_grid([png(1536, 1024, mode="RGB") for _ in range(4)]))
    assert max(grid.size) <= 1024


def test_fit_png_shrinks_until_it_fits() -> None:
    data = noise_png(256, 256)
    fitted = fit_png(data, 30_000)
    assert len(fitted) <= 30_000 and decode(fitted).format == "PNG"


def test_fit_files_keeps_every_file_and_says_so() -> None:
    files = [(f"image-{i}.png", noise_png(200, 200)) for i in (1, 2)] + [("grid.png", png(10, 10))]
    fitted, notes = fit_files(files, 100_000)
    assert [name for name, _ in fitted] == ["image-1.png", "image-2.png", "grid.png"]
    assert sum(len(d) for _, d in fitted) <= 100_000 * UPLOAD_MARGIN
    assert all(decode(d).format == "PNG" for _, d in fitted)
    assert fitted[2][1] == files[2][1]  # the small one was left alone
    assert notes and "image-1.png" in notes[0] and "upload limit" in notes[0]


def test_fit_files_leaves_small_results_alone() -> None:
    files = [("image-1.png", png(10, 10))]
    assert fit_files(files, 10_000) == (files, [])


# --- the service against the fake provider ---------------------------------------------------

MakeService = Callable[..., Awaitable[ImageService]]


@pytest.fixture
async def make_service(tmp_path: Path, fake_ai: FakeOpenAI, store: Store) -> AsyncIterator[MakeService]:
    clients: list[LLM] = []

    async def make(model: str = "gpt-image-1", **overrides: object) -> ImageService:
        settings = make_settings(tmp_path / model, fake_ai.base_url, image_model=model, **overrides)
        llm = LLM(settings, on_usage=store.record_usage, retry_base=0.01)
        clients.append(llm)
        return ImageService(store, llm, settings)

    yield make
    for client in clients:
        await client.aclose()
    fake_ai.set_models(DEFAULT_MODELS)


@pytest.mark.parametrize(
    ("model", "size", "count", "pixels"),
    [
        ("gpt-image-1", "square", 1, (64, 64)),
        ("gpt-image-1", "portrait", 4, (64, 96)),
        ("gpt-image-1", "landscape", 1, (96, 64)),
        ("dall-e-3", "portrait", 1, (64, 112)),
        ("dall-e-3", "landscape", 4, (112, 64)),
    ],
)
async def test_generate_sizes_and_counts(
    make_service: MakeService, fake_ai: FakeOpenAI, store: Store, model: str, size: str, count: int, pixels
) -> None:
    service = await make_service(model)
    result = await service.generate("a red fox", ALICE, size=size, count=count)
    assert len(result.images) == count
    assert all(decode(p).format == "PNG" and decode(p).size == pixels for p in result.images)
    assert (result.grid is not None) == (count > 1)
    requests = fake_ai.requests_to("/images/generations")
    assert len(requests) == (count if model == "dall-e-3" else 1)  # dall-e-3 makes one per request
    assert requests[0].json["size"] == image_model(model).size(size)
    record = await store.generation(result.generation_id)
    assert record is not None
    assert (record.user_id, record.channel_id, record.guild_id) == (11, 22, 33)
    assert (record.kind, record.prompt, record.model, record.count) == ("generate", "a red fox", model, count)
    assert (await store.usage_totals(since=0, user_id=11))[2] == count


async def test_dall_e_3_revised_prompt_and_quality(make_service: MakeService, fake_ai: FakeOpenAI) -> None:
    service = await make_service("dall-e-3")
    result = await service.generate("a lighthouse", ALICE, quality="high")
    assert result.revised_prompt == "A detailed, vivid rendering of: a lighthouse"
    body = fake_ai.last_request("/images/generations").json
    assert body["quality"] == "hd" and body["response_format"] == "b64_json"
    assert not result.can_vary and result.can_again


async def test_one_refused_request_of_four_keeps_the_rest(
    make_service: MakeService, fake_ai: FakeOpenAI
) -> None:
    service = await make_service("dall-e-3")
    fake_ai.fail_next("content_policy")
    result = await service.generate("boats", ALICE, count=4)
    assert len(result.images) == 3 and "3 of the 4" in result.notes[0]


@pytest.mark.parametrize("kind", ["content_policy", "moderation_blocked"])
async def test_refusals_say_so_without_the_raw_error(
    make_service: MakeService, fake_ai: FakeOpenAI, store: Store, kind: str
) -> None:
    service = await make_service()
    fake_ai.fail_next(kind)
    with pytest.raises(UserError) as err:
        await service.generate("something", ALICE)
    assert err.value.kind == "refused" and "safety system refused" in err.value.message
    assert "rejected" not in err.value.message and "help.openai.com" not in err.value.message
    assert await store.generations() == []


@pytest.mark.parametrize("models", [{"gpt-4o-mini": "chat"}, {"gpt-4o-mini": "chat", "gpt-image-1": "chat"}])
async def test_provider_without_image_support_names_the_settings(
    make_service: MakeService, fake_ai: FakeOpenAI, models: dict[str, str]
) -> None:
    service = await make_service()
    fake_ai.set_models(models)  # the model is missing (404), or not an image model (400 param=model)
    with pytest.raises(UserError) as err:
        await service.generate("a cat", ALICE)
    assert err.value.kind == "no_image_support"
    assert "IMAGE_MODEL" in err.value.message and "OPENAI_BASE_URL" in err.value.message


async def test_timeout_has_an_image_specific_message(make_service: MakeService, fake_ai: FakeOpenAI) -> None:
    service = await make_service(request_timeout=0.5)
    fake_ai.fail_next("timeout")
    with pytest.raises(UserError) as err:
        await service.generate("slow", ALICE)
    assert err.value.kind == "timeout" and "took longer" in err.value.message


async def test_edit_without_mask(make_service: MakeService, fake_ai: FakeOpenAI, store: Store) -> None:
    service = await make_service()
    result = await service.edit(jpeg_rotated(), "make it night", ALICE)
    sent = fake_ai.last_request("/images/edits")
    image = sent.file("image")
    assert image is not None and image.content_type == "image/png"
    assert decode(image.data).size == (20, 40) and sent.file("mask") is None
    assert sent.form["size"] == "1024x1536"
    assert len(result.images) == 1 and result.kind == "edit" and result.can_vary
    record = await store.generation(result.generation_id)
    assert record is not None and (record.kind, record.prompt) == ("edit", "make it night")


async def test_edit_with_mask(make_service: MakeService, fake_ai: FakeOpenAI) -> None:
    service = await make_service()
    await service.edit(webp(40, 40), "add a hat", ALICE, mask=mask_png(10, 10))
    sent = fake_ai.last_request("/images/edits")
    image, mask = sent.file("image"), sent.file("mask")
    assert image is not None and mask is not None
    assert decode(mask.data).size == decode(image.data).size == (40, 40)
    assert mask.content_type == "image/png"


async def test_dall_e_3_cannot_edit(make_service: MakeService, fake_ai: FakeOpenAI) -> None:
    service = await make_service("dall-e-3")
    with pytest.raises(UserError) as err:
        await service.edit(png(32, 32), "x", ALICE)
    assert err.value.kind == "no_edit_support" and "IMAGE_MODEL" in err.value.message
    assert fake_ai.requests_to("/images/edits") == []


async def test_vary_edits_with_the_original_prompt(make_service: MakeService, fake_ai: FakeOpenAI) -> None:
    service = await make_service()
    first = await service.generate("a teapot", ALICE)
    varied = await service.vary(first.generation_id, first.images[0], ALICE)
    assert "a teapot" in fake_ai.last_request("/images/edits").form["prompt"]
    assert varied.kind == "vary" and varied.prompt == "a teapot" and len(varied.images) == 1


async def test_vary_uses_the_variations_endpoint_for_dall_e_2(
    make_service: MakeService, fake_ai: FakeOpenAI
) -> None:
    fake_ai.set_models({**DEFAULT_MODELS, "dall-e-2": "image"})
    service = await make_service("dall-e-2")
    first = await service.generate("a kite", ALICE)
    await service.vary(first.generation_id, first.images[0], ALICE)
    sent = fake_ai.last_request("/images/variations")
    assert sent.form["size"] == "1024x1024" and sent.file("image") is not None


async def test_empty_or_too_long_prompt(make_service: MakeService) -> None:
    service = await make_service("dall-e-3")
    with pytest.raises(UserError, match="can't be empty"):
        await service.generate("   ", ALICE)
    with pytest.raises(UserError, match="under 4000"):
        await service.generate("x" * 4001, ALICE)
