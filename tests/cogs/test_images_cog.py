"""Images through Discord: /imagine, /image edit, Again and Vary after a restart, and every refusal."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from bot.app import TeamBot
from bot.config import Settings
from bot.image_prep import GRID_GAP
from bot.services import Services
from tests.bot.test_images import animated_gif, bomb_png, jpeg_rotated, mask_png, noise_png, png, webp
from tests.fakes.discord import DiscordWouldRefuse, FakeDiscord, InteractionRecord, SentMessage
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "alice": fd.member(guild, "alice", display_name="Alice"),
        "bob": fd.member(guild, "bob", display_name="Bob"),
    }


@pytest.fixture(autouse=True)
def restore_models(fake_ai: FakeOpenAI) -> Iterator[None]:
    yield
    fake_ai.set_models(DEFAULT_MODELS)
    fake_ai.image_scale = 1 / 16


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def labels(message: SentMessage) -> list[str]:
    return [b["label"] for b in message.buttons]


async def imagine(fd: FakeDiscord, world: dict, **options: object) -> InteractionRecord:
    return await fd.slash(
        "imagine", {"prompt": "a red fox", **options}, user=world["alice"], channel=world["general"]
    )


# --- /imagine --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "pixels"), [("square", (64, 64)), ("portrait", (64, 96)), ("landscape", (96, 64))]
)
async def test_imagine_one_image_per_size(
    fd: FakeDiscord, world: dict, size: str, pixels: tuple[int, int]
) -> None:
    rec = await imagine(fd, world, size=size)
    assert rec.deferred
    reply = rec.original
    assert [f.filename for f in reply.files] == ["image-1.png"]
    image = decode(reply.files[0].data)
    assert image.format == "PNG" and image.size == pixels
    assert "a red fox" in reply.content and size in reply.content
    assert labels(reply) == ["Again", "Vary"]
    assert reply.contents[0].startswith("🎨 Making 1 image")  # progress came first
    assert fd.errors == []


async def test_imagine_four_images_with_a_grid(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await imagine(fd, world, size="landscape", count=4)
    files = {f.filename: f.data for f in rec.original.files}
    assert list(files) == ["image-1.png", "image-2.png", "image-3.png", "image-4.png", "grid.png"]
    assert all(decode(files[f"image-{i}.png"]).size == (96, 64) for i in range(1, 5))
    assert decode(files["grid.png"]).size == (2 * 96 + 3 * GRID_GAP, 2 * 64 + 3 * GRID_GAP)
    assert labels(rec.original) == ["Again", "Vary 1", "Vary 2", "Vary 3", "Vary 4"]
    assert fake_ai.last_request("/images/generations").json["n"] == 4


async def test_dall_e_3_shows_the_revised_prompt_and_no_vary(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, services: Services
) -> None:
    services.settings.image_model = "dall-e-3"
    rec = await imagine(fd, world, size="portrait", count=4, quality="high")
    assert len(fake_ai.requests_to("/images/generations")) == 4
    assert "Revised prompt: A detailed, vivid rendering of: a red fox" in rec.original.content
    assert decode(rec.original.files[0].data).size == (64, 112)
    assert labels(rec.original) == ["Again"]


async def test_generation_is_recorded(fd: FakeDiscord, world: dict, services: Services) -> None:
    await imagine(fd, world, count=2)
    [record] = await services.store.generations()
    assert (record.user_id, record.channel_id, record.guild_id) == (
        world["alice"].id,
        world["general"].id,
        world["guild"].id,
    )
    assert (record.prompt, record.model, record.count, record.kind) == (
        "a red fox",
        "gpt-image-1",
        2,
        "generate",
    )


async def test_prompt_can_never_ping(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "imagine", {"prompt": "@everyone a party"}, user=world["alice"], channel=world["general"]
    )
    assert "@everyone" in rec.original.content and not rec.original.pings_anyone


async def test_oversize_results_are_reencoded_not_dropped(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.image_scale = 1  # full-size 1024 px images
    fd.server.attachment_size_limit = 12_000
    rec = await imagine(fd, world, count=2)
    files = rec.original.files
    assert [f.filename for f in files] == ["image-1.png", "image-2.png", "grid.png"]
    assert sum(len(f.data) for f in files) <= 12_000
    assert all(decode(f.data).format == "PNG" for f in files)
    assert "Compressed" in rec.original.content and "upload limit" in rec.original.content


# --- buttons, also after a restart -----------------------------------------------------------


async def restart(fd: FakeDiscord, settings: Settings) -> Services:
    fresh = await Services.create(settings)
    await fd.restart(TeamBot(fresh, sync_commands=False))
    return fresh


async def test_again_works_after_a_restart(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, settings: Settings
) -> None:
    first = (await imagine(fd, world, size="portrait", count=2)).original
    fresh = await restart(fd, settings)
    click = await fd.click(first, label="Again", user=world["bob"])
    again = click.original
    assert again.id != first.id and "a red fox" in again.content
    assert [f.filename for f in again.files] == ["image-1.png", "image-2.png", "grid.png"]
    assert decode(again.files[0].data).size == (64, 96)
    body = fake_ai.last_request("/images/generations").json
    assert (body["prompt"], body["n"], body["size"]) == ("a red fox", 2, "1024x1536")
    records = await fresh.store.generations()
    assert [r.user_id for r in records] == [world["alice"].id, world["bob"].id]
    assert fd.errors == []


async def test_vary_works_after_a_restart(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, settings: Settings
) -> None:
    first = (await imagine(fd, world, count=4)).original
    await restart(fd, settings)
    click = await fd.click(first, label="Vary 3", user=world["alice"])
    sent = fake_ai.last_request("/images/edits")
    image = sent.file("image")
    assert image is not None  # image 3 of the message, as it was uploaded to Discord:
    assert decode(image.data).tobytes() == decode(first.files[2].data).convert("RGBA").tobytes()
    assert decode(image.data).tobytes() != decode(first.files[0].data).convert("RGBA").tobytes()
    assert "a red fox" in sent.form["prompt"]
    assert [f.filename for f in click.original.files] == ["image-1.png"]
    assert labels(click.original) == ["Vary"]
    assert fd.errors == []


async def test_button_of_an_unknown_generation(fd: FakeDiscord, world: dict, services: Services) -> None:
    first = (await imagine(fd, world)).original
    await services.store.db.execute("DELETE FROM image_generations")
    click = await fd.click(first, label="Again", user=world["alice"])
    assert "no longer have" in click.last.content


# --- /image edit -----------------------------------------------------------------------------


async def edit(fd: FakeDiscord, world: dict, image: tuple, **options: object) -> InteractionRecord:
    return await fd.slash(
        "image edit",
        {"image": image, "prompt": "add a hat", **options},
        user=world["alice"],
        channel=world["general"],
    )


async def test_edit_without_mask(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await edit(fd, world, ("cat.png", png(80, 80)))
    sent = fake_ai.last_request("/images/edits")
    assert sent.file("mask") is None and sent.form["prompt"] == "add a hat"
    assert [f.filename for f in rec.original.files] == ["image-1.png"]
    assert "add a hat" in rec.original.content and labels(rec.original) == ["Vary"]


async def test_edit_with_mask(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await edit(fd, world, ("cat.png", png(80, 60)), mask=("mask.png", mask_png(20, 15)))
    sent = fake_ai.last_request("/images/edits")
    image, mask = sent.file("image"), sent.file("mask")
    assert image is not None and mask is not None
    assert decode(image.data).size == decode(mask.data).size == (80, 60)


@pytest.mark.parametrize(
    ("upload", "size", "pixel"),
    [
        (("photo.jpg", jpeg_rotated(), "image/jpeg"), (20, 40), None),
        (("sticker.webp", webp(), "image/webp"), (30, 30), (10, 200, 10, 128)),
        (("loop.gif", animated_gif(), "image/gif"), (16, 16), (0, 255, 0, 255)),
        (("huge.png", png(5000, 3000, mode="RGB"), "image/png"), (1536, 922), None),
    ],
)
async def test_edit_inputs_become_rgba_pngs(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, upload: tuple, size: tuple, pixel: tuple | None
) -> None:
    rec = await edit(fd, world, upload)
    assert rec.original.files, rec.original.content
    sent = fake_ai.last_request("/images/edits").file("image")
    assert sent is not None and sent.content_type == "image/png"
    image = decode(sent.data)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", size)
    if pixel is not None:
        assert image.getpixel((5, 5)) == pixel


async def test_attachment_that_is_not_an_image(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await edit(fd, world, ("notes.txt", b"hello", "text/plain"))
    assert rec.ephemeral and "isn't an image" in rec.last.content
    assert fake_ai.requests_to("/images/edits") == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is text named like a picture", "isn't an image I can read"),
        (noise_png(64, 64)[:2000], "looks damaged"),
        (bomb_png(100_000, 100_000), "too large"),
    ],
)
async def test_bad_image_files_get_clear_messages(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, data: bytes, expected: str
) -> None:
    rec = await edit(fd, world, ("photo.png", data, "image/png"))
    assert expected in rec.last.content and not rec.last.files
    assert fake_ai.requests_to("/images/edits") == []


async def test_mask_of_the_wrong_kind(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await edit(
        fd, world, ("cat.png", png(64, 64)), mask=("mask.png", mask_png(64, 64, transparent=False))
    )
    assert "mask needs transparent areas" in rec.last.content
    assert fake_ai.requests_to("/images/edits") == []


async def test_edit_needs_a_model_that_edits(fd: FakeDiscord, world: dict, services: Services) -> None:
    services.settings.image_model = "dall-e-3"
    rec = await edit(fd, world, ("cat.png", png(64, 64)))
    assert "can't edit images" in rec.last.content and "IMAGE_MODEL" in rec.last.content


# --- provider refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["content_policy", "moderation_blocked"])
async def test_safety_refusal(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, services: Services, kind: str
) -> None:
    fake_ai.fail_next(kind)
    rec = await imagine(fd, world)
    content = rec.last.content
    assert "safety system refused" in content and "Making" not in content
    assert "rejected" not in content and "req_fake" not in content
    assert not rec.last.files and not rec.last.buttons
    assert await services.store.generations() == []


async def test_provider_without_images(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    fake_ai.set_models({"gpt-4o-mini": "chat"})
    rec = await imagine(fd, world)
    assert "IMAGE_MODEL" in rec.last.content and "OPENAI_BASE_URL" in rec.last.content


async def test_timeout(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("timeout")
    rec = await imagine(fd, world)
    assert "took longer" in rec.last.content


async def test_refused_vary_click_answers_in_place(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    first = (await imagine(fd, world)).original
    fake_ai.fail_next("moderation_blocked")
    click = await fd.click(first, label="Vary", user=world["alice"])
    assert "safety system refused" in click.last.content
    assert fd.errors == []


async def test_count_outside_one_to_four_is_refused_by_discord(fd: FakeDiscord, world: dict) -> None:
    with pytest.raises(DiscordWouldRefuse):
        await imagine(fd, world, count=5)
    with pytest.raises(DiscordWouldRefuse):
        await imagine(fd, world, size="huge")


async def test_a_japanese_reader_gets_image_errors_in_japanese(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("content_policy")
    rec = await fd.slash(
        "imagine", {"prompt": "a fox"}, user=world["alice"], channel=world["general"], locale="ja"
    )
    assert "安全システムがこのリクエストを拒否しました" in rec.last.content


async def test_a_japanese_reader_gets_upload_refusals_in_japanese(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "image edit", {"image": ("notes.txt", b"not an image"), "prompt": "add a hat"},
        user=world["alice"], channel=world["general"], locale="ja",
    )
    assert "画像 `notes.txt` は画像ではありません" in rec.last.content
