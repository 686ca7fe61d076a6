"""The fake OpenAI server, driven through the real `openai` client: models, chat, embeddings, images.

Scripted failures, latency and shutdown are in test_openai_server_failures.py; the `server` and
`client` fixtures are in conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import struct
import time
import urllib.request
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from PIL import Image

from tests.fakes.conftest import KEY, USER
from tests.fakes.openai_server import (
    IMAGE_TOKENS,
    FakeOpenAI,
    closed_port_url,
    count_tokens,
    embed_text,
    fake_openai,
)


def cosine(a: list[float], b: list[float]) -> float:
    """Return the cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def png_size(b64: str) -> tuple[int, int]:
    """Decode a base64 PNG with Pillow and return its size."""
    with Image.open(io.BytesIO(base64.b64decode(b64))) as image:
        assert image.format == "PNG"
        return image.size


def png_bytes(size: tuple[int, int] = (8, 8), mode: str = "RGBA") -> bytes:
    """Return a small real PNG."""
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


# --- models and auth -----------------------------------------------------------------------------------


async def test_models_lists_the_configured_models(client: AsyncOpenAI) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == [
        "gpt-4o-mini",
        "text-embedding-3-small",
        "gpt-image-1",
        "dall-e-3",
        "omni-moderation-latest",
    ]


async def test_models_are_settable(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.set_models(["my-chat", "my-embedding"])
    assert [m.id for m in (await client.models.list()).data] == ["my-chat", "my-embedding"]
    reply = await client.chat.completions.create(model="my-chat", messages=USER)
    assert reply.model == "my-chat"


async def test_unknown_model_is_404_model_not_found(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="gpt-nope", messages=USER)
    assert caught.value.code == "model_not_found"
    assert "gpt-nope" in caught.value.message


async def test_wrong_api_key_is_401_invalid_api_key(server: FakeOpenAI) -> None:
    api = AsyncOpenAI(api_key="sk-wrong-key-123456", base_url=server.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        await api.models.list()
    await api.close()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong-key-123456" not in caught.value.message


async def test_no_api_key_configured_accepts_any_key() -> None:
    with fake_openai() as fake:
        api = AsyncOpenAI(api_key="anything", base_url=fake.base_url, max_retries=0)
        assert (await api.models.list()).data
        await api.close()


async def test_closed_port_gives_a_connection_error() -> None:
    api = AsyncOpenAI(api_key=KEY, base_url=closed_port_url(), max_retries=0, timeout=2)
    with pytest.raises(openai.APIConnectionError):
        await api.models.list()
    await api.close()


# --- chat ----------------------------------------------------------------------------------------------


async def test_chat_reflects_the_last_user_message(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert reply.choices[0].message.content == "echo: second question"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 8
    assert reply.usage.completion_tokens == 3
    assert reply.usage.total_tokens == 11
    recorded = server.last_request("/chat/completions")
    assert recorded.json["messages"] == messages
    assert recorded.headers["authorization"] == f"Bearer {KEY}"


async def test_chat_reads_text_and_image_parts(client: AsyncOpenAI) -> None:
    content = [
        {"type": "text", "text": "what is in"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    reply = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
    )
    assert reply.choices[0].message.content == "echo: what is in [image]"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 3 + IMAGE_TOKENS


async def test_stream_yields_several_deltas_then_usage(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    deltas: list[str] = []
    finish: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert len(deltas) >= 4
    assert "".join(deltas) == "echo: hello brave new world"
    assert finish == ["stop"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (4, 5)


async def test_stream_without_include_usage_has_no_usage_chunk(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


async def test_stream_delay_spaces_the_chunks(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.stream_delay = 0.05
    started = time.monotonic()
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    arrivals = [time.monotonic() - started async for chunk in stream if chunk.choices[0].delta.content]
    assert arrivals[-1] - arrivals[0] >= 0.05 * (len(arrivals) - 1) * 0.8


async def test_stream_splits_japanese_into_pieces(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    server.reply_with(text)
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    deltas = [c.choices[0].delta.content async for c in stream if c.choices[0].delta.content]
    assert len(deltas) >= 3
    assert "".join(deltas) == text


async def test_reply_with_text(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.reply_with("fixed answer")
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert reply.choices[0].message.content == "fixed answer"
    server.reply_with(None)
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert reply.choices[0].message.content == "echo: hello brave new world"


async def test_reply_with_callable_sees_the_request(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: dict[str, Any]) -> str:
        seen.append(request)
        return f"{len(request['messages'])} messages, temperature {request.get('temperature')}"

    server.reply_with(answer)
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=0.5)
    assert reply.choices[0].message.content == "1 messages, temperature 0.5"
    assert seen[0]["model"] == "gpt-4o-mini"


async def test_max_tokens_truncates_with_finish_reason_length(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    server.reply_with("one two three four five six")
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, max_completion_tokens=2)
    assert reply.choices[0].message.content == "one two"
    assert reply.choices[0].finish_reason == "length"


async def test_context_limit_rejects_long_prompts(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.context_limit = 3
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 3 tokens" in caught.value.message


async def test_chat_with_a_non_chat_model_is_rejected(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="not a chat model"):
        await client.chat.completions.create(model="text-embedding-3-small", messages=USER)


async def test_sync_client_on_the_event_loop_does_not_deadlock(server: FakeOpenAI) -> None:
    sync = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=3)
    reply = sync.chat.completions.create(model="gpt-4o-mini", messages=USER)
    sync.close()
    assert reply.choices[0].message.content == "echo: hello brave new world"


# --- embeddings ----------------------------------------------------------------------------------------


async def test_embeddings_are_closer_for_shared_words(client: AsyncOpenAI) -> None:
    texts = ["the cat sat on the mat", "a cat sat on a rug", "quarterly revenue grew strongly"]
    result = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    anchor, near, far = (d.embedding for d in result.data)
    assert len(anchor) == 512
    assert cosine(anchor, near) > cosine(anchor, far)
    assert math.isclose(sum(x * x for x in anchor), 1.0, rel_tol=1e-5)
    assert result.usage.prompt_tokens == 6 + 6 + 4


async def test_embeddings_handle_japanese(client: AsyncOpenAI) -> None:
    texts = ["東京の天気は晴れです", "東京の天気は雨です", "猫が好きです"]
    result = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    anchor, near, far = (d.embedding for d in result.data)
    assert cosine(anchor, near) > cosine(anchor, far)


async def test_embeddings_client_asks_for_base64_and_gets_floats(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    result = await client.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert server.last_request("/embeddings").json["encoding_format"] == "base64"
    expected = embed_text("hello world", 512)
    assert result.data[0].embedding == pytest.approx(expected, abs=1e-6)


async def test_embeddings_explicit_base64_decodes_as_float32(client: AsyncOpenAI) -> None:
    result = await client.embeddings.create(
        model="text-embedding-3-small", input="hello world", encoding_format="base64", dimensions=64
    )
    raw = result.data[0].embedding
    assert isinstance(raw, str)
    decoded = struct.unpack("<64f", base64.b64decode(raw))
    assert list(decoded) == pytest.approx(embed_text("hello world", 64), abs=1e-6)


async def test_embeddings_float_format_and_empty_text(client: AsyncOpenAI) -> None:
    result = await client.embeddings.create(
        model="text-embedding-3-small", input=["", "!!!"], encoding_format="float", dimensions=16
    )
    empty, punctuation = (d.embedding for d in result.data)
    assert empty == punctuation
    assert math.isclose(sum(x * x for x in empty), 1.0, rel_tol=1e-6)


# --- images --------------------------------------------------------------------------------------------


async def test_generate_returns_scaled_pngs(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    result = await client.images.generate(model="gpt-image-1", prompt="a red fox", n=2, size="1024x1536")
    assert result.data is not None and len(result.data) == 2
    assert [png_size(d.b64_json or "") for d in result.data] == [(64, 96), (64, 96)]
    assert result.usage is not None and result.usage.input_tokens == count_tokens("a red fox")
    assert server.last_request("/images/generations").json["prompt"] == "a red fox"


async def test_generate_at_full_scale(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.image_scale = 1
    result = await client.images.generate(model="gpt-image-1", prompt="tiny", size="256x256")
    assert result.data is not None
    assert png_size(result.data[0].b64_json or "") == (256, 256)


async def test_dall_e_3_gives_a_revised_prompt_and_a_url_by_default(client: AsyncOpenAI) -> None:
    result = await client.images.generate(model="dall-e-3", prompt="a lighthouse", size="1792x1024")
    assert result.data is not None
    image = result.data[0]
    assert image.revised_prompt and "a lighthouse" in image.revised_prompt
    assert image.url is not None and image.b64_json is None
    with await asyncio.to_thread(urllib.request.urlopen, image.url, timeout=3) as response:
        data = response.read()
    assert png_size(base64.b64encode(data).decode()) == (112, 64)


async def test_dall_e_3_with_b64_json(client: AsyncOpenAI) -> None:
    result = await client.images.generate(model="dall-e-3", prompt="a lighthouse", response_format="b64_json")
    assert result.data is not None
    assert png_size(result.data[0].b64_json or "") == (64, 64)


async def test_images_with_a_chat_model_are_400(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.generate(model="gpt-4o-mini", prompt="a fox")
    assert caught.value.code == "invalid_value"
    assert caught.value.param == "model"


async def test_edit_records_the_multipart_fields(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    image = png_bytes((32, 32))
    mask = png_bytes((32, 32))
    result = await client.images.edit(
        model="gpt-image-1",
        image=("photo.png", image, "image/png"),
        mask=("mask.png", mask, "image/png"),
        prompt="add a hat",
        n=2,
        size="1024x1024",
    )
    assert result.data is not None
    assert [png_size(d.b64_json or "") for d in result.data] == [(64, 64), (64, 64)]
    recorded = server.last_request("/images/edits")
    assert recorded.form == {"prompt": "add a hat", "model": "gpt-image-1", "n": "2", "size": "1024x1024"}
    photo, sent_mask = recorded.file("image"), recorded.file("mask")
    assert photo is not None and sent_mask is not None
    assert (photo.filename, photo.content_type, photo.size, photo.data) == (
        "photo.png",
        "image/png",
        len(image),
        image,
    )
    assert (sent_mask.filename, sent_mask.data) == ("mask.png", mask)


async def test_edit_with_several_images_and_no_size_keeps_the_source_size(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    first, second = png_bytes((40, 20)), png_bytes((10, 10))
    result = await client.images.edit(
        model="gpt-image-1",
        image=[("a.png", first, "image/png"), ("b.png", second, "image/png")],
        prompt="mix",
    )
    assert result.data is not None
    assert png_size(result.data[0].b64_json or "") == (40, 20)
    recorded = server.last_request("/images/edits")
    assert [f.field for f in recorded.files] == ["image[]", "image[]"]
    assert [f.data for f in recorded.files_named("image")] == [first, second]


async def test_edit_rejects_raw_bytes_without_an_image_mimetype(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.edit(model="gpt-image-1", image=png_bytes(), prompt="x")
    assert caught.value.code == "unsupported_file_mimetype"


async def test_edit_rejects_a_file_that_is_not_an_image(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.edit(model="gpt-image-1", image=("a.png", b"not a png", "image/png"), prompt="x")
    assert caught.value.code == "invalid_image_format"


async def test_variations_return_pngs(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.set_models({"dall-e-2": "image"})
    with pytest.warns(DeprecationWarning):
        result = await client.images.create_variation(
            image=("a.png", png_bytes((16, 16)), "image/png"), n=2, size="256x256", response_format="b64_json"
        )
    assert result.data is not None
    assert [png_size(d.b64_json or "") for d in result.data] == [(16, 16), (16, 16)]
    assert server.last_request("/images/variations").form["n"] == "2"


# --- moderation ----------------------------------------------------------------------------------------


async def test_moderation_flags_the_trigger_word(client: AsyncOpenAI) -> None:
    result = await client.moderations.create(
        model="omni-moderation-latest", input=["a friendly message", "please FLAGME now"]
    )
    clean, flagged = result.results
    assert not clean.flagged and not clean.categories.harassment
    assert flagged.flagged and flagged.categories.harassment and flagged.categories.violence
    assert flagged.category_scores.harassment > 0.5 > clean.category_scores.harassment


async def test_moderation_trigger_word_is_configurable(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.flag_word = "forbidden"
    result = await client.moderations.create(input="this is forbidden")
    assert result.results[0].flagged
