"""The provider client's HTTP transport: the openai SDK's aiohttp transport, with its errors told apart.

httpx2's own pool checks every idle connection on each request; at 50 busy channels that was a third of
the bot's CPU per turn (bench/load.py). The SDK ships an aiohttp transport (`DefaultAioHttpClient`),
and aiohttp already comes with discord.py. Its error map turns every aiohttp connection error,
"connection refused" and "server hung up" included, into a connect *timeout*; this wrapper restores
the difference so a user hears "can't be reached", not "took too long".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx2
from openai import DefaultAioHttpClient
from openai._constants import DEFAULT_CONNECTION_LIMITS
from openai._vendor.httpx_aiohttp.transport import AiohttpTransport


@contextmanager
def _honest_errors(failure: type[httpx2.TransportError]) -> Iterator[None]:
    """Re-raise a "timeout" that was really a refused or dropped connection as `failure`."""
    try:
        yield
    except httpx2.TimeoutException as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, TimeoutError):
            raise
        raise failure(str(cause) or type(cause).__name__) from cause


class _Body(httpx2.AsyncByteStream):
    """A response body whose dropped connection reads as a read error."""

    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks."""
        with _honest_errors(httpx2.ReadError):
            async for chunk in self._inner:
                yield chunk

    async def aclose(self) -> None:
        """Release the connection."""
        await self._inner.aclose()


class ProviderTransport(httpx2.AsyncBaseTransport):
    """The SDK's aiohttp transport with connection failures reported as such."""

    def __init__(self, limits: httpx2.Limits = DEFAULT_CONNECTION_LIMITS) -> None:
        self.inner = AiohttpTransport(limits=limits)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send the request; the body streams through `_Body`."""
        with _honest_errors(httpx2.ConnectError):
            response = await self.inner.handle_async_request(request)
        response.stream = _Body(response.stream)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.inner.aclose()


def provider_http_client(transport: httpx2.AsyncBaseTransport | None = None) -> httpx2.AsyncClient:
    """The HTTP client for AsyncOpenAI: the SDK's defaults on `ProviderTransport` (or `transport`)."""
    return DefaultAioHttpClient(transport=transport or ProviderTransport())
