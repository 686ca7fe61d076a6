"""The provider: one AsyncOpenAI client for every model call, with usage counting and plain errors."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletion

from bot.chat_body import chat_body
from bot.config import Settings
from bot.errors import UserError
from bot.http import provider_http_client
from bot.provider_errors import map_error, param_of, retryable
from bot.store import UsageRecord

log = logging.getLogger(__name__)

Message = dict[str, Any]
UsageSink = Callable[[UsageRecord], Awaitable[None]]
_MAX_RETRY_WAIT = 20.0


@dataclass(frozen=True, slots=True)
class Who:
    """Whose request a model call serves, for usage and budgets."""

    guild_id: int | None
    user_id: int | None
    feature: str


@dataclass(slots=True)
class Spent:
    """What a streamed call used, when its caller stores it with the answer (one database trip for
    both) instead of the LLM recording it; the caller records it alone if the answer fails."""

    record: UsageRecord | None = None


@dataclass(slots=True)
class Ending:
    """How a streamed answer ended: `finish_reason` "length" means it was cut off at max_tokens."""

    finish_reason: str | None = None


@dataclass(slots=True)
class ChatResult:
    """A finished completion."""

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None


@dataclass(slots=True)
class GeneratedImage:
    """One image from the provider."""

    png: bytes
    revised_prompt: str | None = None


@dataclass(slots=True)
class Moderation:
    """The provider's verdict on a text."""

    flagged: bool
    categories: list[str] = field(default_factory=list)


class LLM:
    """Chat, embeddings, images and moderation through one OpenAI-compatible client.

    Chat requests go through the client's documented low-level `post()` with the plain dict we
    built: `create()` first runs a type-driven transform over every message that does nothing for
    these parameters and cost ~10 ms per turn at 60 messages (bench/chat_overhead.py).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_usage: UsageSink | None = None,
        http_client: Any | None = None,
        retry_base: float = 0.5,
    ) -> None:
        self.settings = settings
        self.on_usage = on_usage
        self.retry_base = retry_base
        kwargs: dict[str, Any] = {
            "api_key": settings.api_key_value(),
            "timeout": settings.request_timeout,
            "max_retries": 0,  # we retry ourselves, only where a retry can help
        }
        if settings.openai_base_url:
            kwargs["base_url"] = settings.openai_base_url
        kwargs["http_client"] = http_client if http_client is not None else provider_http_client()
        self.client = AsyncOpenAI(**kwargs)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()

    # --- chat -------------------------------------------------------------------------------

    async def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        who: Who,
        model: str | None = None,
        max_tokens: int | None = None,
        spent: Spent | None = None,
        ending: Ending | None = None,
    ) -> AsyncIterator[str]:
        """Yield text deltas of a streamed completion; records usage when it ends (or leaves it in
        `spent`, if given, for the caller to store); `ending`, if given, is told why it ended."""
        model = model or self.settings.chat_model
        params: dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True}}
        if max_tokens:
            params["max_tokens"] = max_tokens
        body = chat_body(params, messages)
        stream = await self._call(
            lambda: self.client.post(
                "/chat/completions",
                content=body,
                cast_to=ChatCompletion,
                stream=True,
                # Plain dicts: a typed chunk model per event was a third of the bot's CPU per turn under
                # load (bench/load.py), for the three fields read here.
                stream_cls=AsyncStream[object],
            ),
            model=model,
            feature=who.feature,
        )
        tokens_in = tokens_out = 0
        produced = False
        finished = False
        try:
            async for chunk in stream:
                usage = _field(chunk, "usage")
                if usage:
                    tokens_in = int(_field(usage, "prompt_tokens") or 0)
                    tokens_out = int(_field(usage, "completion_tokens") or 0)
                for choice in _field(chunk, "choices") or ():
                    if reason := _field(choice, "finish_reason"):
                        finished = True
                        if ending is not None:
                            ending.finish_reason = str(reason)
                    delta = _field(_field(choice, "delta"), "content")
                    if delta and isinstance(delta, str):
                        produced = True
                        yield delta
        except (openai.OpenAIError, ValueError, OSError) as exc:
            raise self._cut_off() if produced else map_error(exc, model=model) from exc
        finally:
            if spent is not None:
                spent.record = self._usage(who, model, tokens_in, tokens_out)
            else:
                await self._record(who, model, tokens_in, tokens_out)
        if not finished and not produced:
            raise self._cut_off()

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        who: Who,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ChatResult:
        """One non-streamed completion."""
        model = model or self.settings.chat_model
        params: dict[str, Any] = {"model": model}
        if max_tokens:
            params["max_tokens"] = max_tokens
        if temperature is not None:
            params["temperature"] = temperature
        body = chat_body(params, messages)
        response = await self._call(
            lambda: self.client.post("/chat/completions", content=body, cast_to=ChatCompletion),
            model=model,
            feature=who.feature,
        )
        usage = response.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        await self._record(who, model, tokens_in, tokens_out)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        return ChatResult(text, tokens_in, tokens_out, choice.finish_reason if choice else None)

    # --- embeddings -------------------------------------------------------------------------

    async def embed(self, texts: Sequence[str], *, who: Who, model: str | None = None) -> list[list[float]]:
        """Embed a batch of texts, in order."""
        model = model or self.settings.embed_model
        if not texts:
            return []
        params: dict[str, Any] = {"model": model, "input": [t if t.strip() else " " for t in texts]}
        if self.settings.embed_dimensions and model.startswith("text-embedding-3"):
            params["dimensions"] = self.settings.embed_dimensions
        params["encoding_format"] = "base64"
        # Raw bytes decoded in a thread: building typed models for 64 x 512 floats stalled the loop ~100 ms.
        raw = await self._call(
            lambda: self.client.post("/embeddings", body=params, cast_to=bytes),
            model=model,
            feature=who.feature,
        )
        try:
            vectors, tokens = await asyncio.to_thread(decode_embeddings, raw, len(texts))
        except (ValueError, KeyError, TypeError) as exc:
            raise map_error(ValueError("unreadable embeddings"), model=model) from exc
        await self._record(who, model, tokens, 0)
        return vectors

    # --- images -----------------------------------------------------------------------------

    async def generate_images(
        self,
        prompt: str,
        *,
        who: Who,
        size: str,
        n: int = 1,
        quality: str | None = None,
        model: str | None = None,
        on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> list[GeneratedImage]:
        """Generate `n` images (one request per image for models that make one at a time)."""
        model = model or self.settings.image_model
        per_request = 1 if model.startswith("dall-e-3") else n
        requests = n // per_request
        done = 0

        async def one(count: int) -> list[GeneratedImage]:
            nonlocal done
            params: dict[str, Any] = {"model": model, "prompt": prompt, "n": count, "size": size}
            if quality:
                params["quality"] = quality
            if not model.startswith("gpt-image"):
                params["response_format"] = "b64_json"
            response = await self._image_call(lambda: self.client.images.generate(**params), model)
            images = [_image(d) for d in response.data or []]
            await self._record(who, model, 0, 0, images=len(images))
            done += len(images)
            if on_progress is not None:
                await on_progress(done, n)
            return images

        # Concurrent requests each cost money: keep what arrived even when one of them fails.
        batches = await asyncio.gather(*(one(per_request) for _ in range(requests)), return_exceptions=True)
        images = [img for batch in batches if isinstance(batch, list) for img in batch]
        failures = [b for b in batches if isinstance(b, BaseException)]
        if failures and not images:
            raise failures[0]
        for failure in failures:
            log.info("one of %d image requests failed: %s", requests, failure)
        return images

    async def edit_image(
        self,
        image_png: bytes,
        prompt: str,
        *,
        who: Who,
        size: str,
        mask_png: bytes | None = None,
        model: str | None = None,
    ) -> list[GeneratedImage]:
        """Edit an image (PNG bytes) following a prompt, optionally only where the mask is transparent."""
        model = model or self.settings.image_model
        params: dict[str, Any] = {
            "model": model,
            "image": ("image.png", image_png, "image/png"),
            "prompt": prompt,
            "size": size,
        }
        if mask_png is not None:
            params["mask"] = ("mask.png", mask_png, "image/png")
        if not model.startswith("gpt-image"):
            params["response_format"] = "b64_json"
        response = await self._image_call(lambda: self.client.images.edit(**params), model)
        images = [_image(d) for d in response.data or []]
        await self._record(who, model, 0, 0, images=len(images))
        return images

    async def vary_image(
        self, image_png: bytes, *, who: Who, size: str, n: int = 1, model: str | None = None
    ) -> list[GeneratedImage]:
        """Variations of an image (PNG bytes), for models with a variations endpoint (dall-e-2)."""
        model = model or self.settings.image_model
        params: dict[str, Any] = {
            "model": model,
            "image": ("image.png", image_png, "image/png"),
            "n": n,
            "size": size,
            "response_format": "b64_json",
        }
        response = await self._image_call(lambda: self.client.images.create_variation(**params), model)
        images = [_image(d) for d in response.data or []]
        await self._record(who, model, 0, 0, images=len(images))
        return images

    async def _image_call(self, make: Callable[[], Awaitable[Any]], model: str) -> Any:
        """One image request; a provider or model without images gets a message naming the settings."""
        try:
            return await self._call(make, model=model)
        except UserError as error:
            cause = error.__cause__
            status = getattr(cause, "status_code", None)
            wrong_model = isinstance(cause, openai.BadRequestError) and param_of(cause) == "model"
            if status in (404, 405, 501) or wrong_model:
                raise UserError(
                    "The AI provider can't make images with `{model}`. An admin needs to set IMAGE_MODEL "
                    "to an image model (such as gpt-image-1), or OPENAI_BASE_URL to a provider that "
                    "makes images.",
                    kind="no_image_support",
                    params={"model": model},
                ) from cause
            raise

    # --- moderation and models --------------------------------------------------------------

    async def moderate(self, text: str) -> Moderation:
        """Ask the provider's moderation endpoint about a text."""
        model = self.settings.moderation_model
        response = await self._call(
            lambda: self.client.moderations.create(model=model, input=text), model=model
        )
        result = response.results[0]
        categories = [name for name, hit in result.categories.model_dump().items() if hit]
        return Moderation(bool(result.flagged), categories)

    async def model_ids(self) -> list[str]:
        """The models the provider lists."""
        page = await self._call(lambda: self.client.models.list())
        return [m.id async for m in page]

    # --- plumbing ---------------------------------------------------------------------------

    async def _call(
        self, make: Callable[[], Awaitable[Any]], *, model: str | None = None, feature: str | None = None
    ) -> Any:
        """Run one request, retrying with backoff only on failures a retry can fix."""
        attempt = 0
        while True:
            try:
                return await make()
            except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that isn't JSON
                error = map_error(exc, model=model, feature=feature)
                if attempt >= self.settings.max_retries or not retryable(exc):
                    raise error from exc
                wait = error.retry_after or self.retry_base * (2**attempt) * (1 + random.random())
                if wait > _MAX_RETRY_WAIT:
                    raise error from exc
                log.info("provider %s, retrying in %.1fs", error.kind, wait)
                await asyncio.sleep(wait)
                attempt += 1

    async def record(self, record: UsageRecord | None) -> None:
        """Hand what a call used to the usage sink (budgets, /usage); None: it used nothing."""
        if record is not None and self.on_usage is not None:
            await self.on_usage(record)

    @staticmethod
    def _usage(who: Who, model: str, tokens_in: int, tokens_out: int, images: int = 0) -> UsageRecord | None:
        if not (tokens_in or tokens_out or images):
            return None
        return UsageRecord(who.guild_id, who.user_id, who.feature, model, tokens_in, tokens_out, images)

    async def _record(self, who: Who, model: str, tokens_in: int, tokens_out: int, images: int = 0) -> None:
        await self.record(self._usage(who, model, tokens_in, tokens_out, images))

    @staticmethod
    def _cut_off() -> UserError:
        return UserError(
            "The model's answer was cut off part-way (the connection dropped). Please try again.",
            kind="stream_broken",
        )


def _field(value: object, key: str) -> Any:
    """A key of a streamed JSON object, or None when the value is not an object (a malformed chunk)."""
    return value.get(key) if isinstance(value, dict) else None


def decode_embeddings(raw: bytes, count: int) -> tuple[list[list[float]], int]:
    """Vectors (in input order) and prompt tokens from an embeddings response, base64 or floats."""
    body = json.loads(raw)
    items = sorted(body["data"], key=lambda d: d["index"])
    if len(items) != count:
        raise ValueError(f"expected {count} embeddings, got {len(items)}")
    vectors = [
        np.frombuffer(base64.b64decode(e), dtype="<f4").tolist()
        if isinstance(e, str)
        else [float(x) for x in e]
        for e in (item["embedding"] for item in items)
    ]
    usage = body.get("usage") or {}
    return vectors, int(usage.get("prompt_tokens") or 0)


def _image(data: Any) -> GeneratedImage:
    if not data.b64_json:
        raise UserError("The image service answered without an image. Please try again.", kind="bad_response")
    return GeneratedImage(base64.b64decode(data.b64_json), getattr(data, "revised_prompt", None))
