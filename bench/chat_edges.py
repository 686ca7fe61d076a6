"""The edges of the chat benchmark: the LLM call and the HTTP transport, timed per exchange."""

from __future__ import annotations

import cProfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx2

from bot.config import Settings
from bot.http import ProviderTransport, provider_http_client
from bot.llm import LLM, Message, Who
from bot.store import Store


@dataclass(slots=True)
class Exchange:
    """One HTTP request to the model: when it left, and when its last body chunk arrived."""

    sent: float
    streamed: bool = False
    last_chunk: float = 0.0


@dataclass(slots=True)
class Probe:
    """Timestamps collected at the edges during one turn."""

    exchanges: list[Exchange] = field(default_factory=list)
    stream_entered: float = 0.0
    profiler: cProfile.Profile | None = None

    def bot_pauses(self) -> None:
        """The bot's own time stops (a request leaves, or the turn ends): pause the profiler if any."""
        if self.profiler is not None:
            self.profiler.disable()

    def bot_resumes(self) -> None:
        """The bot's own time starts again (the turn starts, or a response ended): resume the profiler."""
        if self.profiler is not None:
            self.profiler.enable()

    def take(self) -> tuple[list[Exchange], float]:
        """The exchanges and stream_chat entry of the turn just run; starts afresh."""
        taken, entered = self.exchanges, self.stream_entered
        self.exchanges, self.stream_entered = [], 0.0
        return taken, entered


class TimedStream(httpx2.AsyncByteStream):
    """A response body that notes when each chunk reached the bot."""

    def __init__(self, inner: httpx2.AsyncByteStream, exchange: Exchange, probe: Probe) -> None:
        self._inner = inner
        self._exchange = exchange
        self._probe = probe

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks, stamped on arrival."""
        async for chunk in self._inner:
            self._exchange.last_chunk = time.perf_counter()
            yield chunk
        self._probe.bot_resumes()

    async def aclose(self) -> None:
        """Close the wrapped body."""
        await self._inner.aclose()


class TimedTransport(httpx2.AsyncBaseTransport):
    """The client's HTTP transport, noting when each request leaves and its body arrives."""

    def __init__(self, probe: Probe) -> None:
        self._inner = ProviderTransport()  # the product's transport
        self._probe = probe

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Stamp the request, send it, and wrap the body to stamp its chunks."""
        exchange = Exchange(time.perf_counter())
        self._probe.bot_pauses()
        self._probe.exchanges.append(exchange)
        response = await self._inner.handle_async_request(request)
        exchange.streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        exchange.last_chunk = time.perf_counter()
        response.stream = TimedStream(response.stream, exchange, self._probe)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._inner.aclose()


class EdgeLLM(LLM):
    """The real LLM, noting when ChatService hands it the conversation."""

    def __init__(self, settings: Settings, store: Store, probe: Probe) -> None:
        client = provider_http_client(TimedTransport(probe))
        super().__init__(settings, on_usage=store.record_usage, http_client=client)
        self.probe = probe

    async def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        who: Who,
        model: str | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Stamp the entry, then the product's stream_chat unchanged."""
        self.probe.stream_entered = time.perf_counter()
        async for delta in super().stream_chat(messages, who=who, model=model, max_tokens=max_tokens):
            yield delta
