"""The public `FakeOpenAI` server: lifecycle, scripting API and recorded-request inspection."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .errors import _Abort
from .handler import _Handler
from .helpers import DEFAULT_MODELS, FAILURE_KINDS, MODEL_KINDS, guess_model_kind, message_text
from .recorded import RecordedRequest, _api_path

log = logging.getLogger(__package__)  # the logger name of the former single module

Responder = Callable[[dict[str, Any]], str]


@dataclass
class _Failure:
    """One queued failure: its kind, and the path and body marker it is limited to."""

    kind: str
    path: str | None
    containing: bytes | None = None


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 with scripted replies and failures."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Mapping[str, str] | Iterable[str] | None = None,
        latency: float = 0.0,
        stream_delay: float = 0.0,
        timeout_sleep: float = 5.0,
        image_scale: float = 1 / 16,
        flag_word: str = "FLAGME",
        flag_categories: tuple[str, ...] = ("harassment", "violence"),
        embedding_dimensions: int = 512,
        retry_after: float = 0.05,
        context_limit: int | None = None,
        validate_images: bool = True,
        keep_requests: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.models: dict[str, str] = {}
        self.set_models(DEFAULT_MODELS if models is None else models)
        self.latency = latency
        self.stream_delay = stream_delay
        self.timeout_sleep = timeout_sleep
        self.image_scale = image_scale
        self.flag_word = flag_word
        self.flag_categories = flag_categories
        self.embedding_dimensions = embedding_dimensions
        self.retry_after = retry_after
        self.context_limit = context_limit
        self.validate_images = validate_images
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        # A long load run keeps only its latest requests: holding every parsed body made the fake's own
        # garbage collector, not the bot, the slowest part of a 60 s run.
        self._requests: deque[RecordedRequest] = deque(maxlen=keep_requests)
        self._failures: list[_Failure] = []
        self._images: dict[str, bytes] = {}
        self._counter = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind an ephemeral port on 127.0.0.1 and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeOpenAI is already started")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and close open connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
            handlers = list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=2)
        for handler in handlers:
            handler.join(timeout=1)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Return the server root, e.g. `http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the API base URL to give the client, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"{self.url}/v1"

    # -- scripting --------------------------------------------------------------------------------------

    def set_models(self, models: Mapping[str, str] | Iterable[str]) -> None:
        """Replace the served models: names (kind guessed from the name) or a name → kind mapping."""
        pairs = models.items() if isinstance(models, Mapping) else ((m, guess_model_kind(m)) for m in models)
        new: dict[str, str] = {}
        for name, kind in pairs:
            if kind not in MODEL_KINDS:
                raise ValueError(f"unknown model kind {kind!r}; use one of {sorted(MODEL_KINDS)}")
            new[name] = kind
        self.models = new

    def reply_with(self, reply: str | Responder | None) -> None:
        """Set the chat reply: a fixed text, a callable of the request JSON, or None to echo again."""
        if reply is None or callable(reply):
            self._responder = reply
        else:
            text = str(reply)
            self._responder = lambda _request: text

    def fail_next(
        self, kind: str, times: int = 1, path: str | None = None, *, containing: str | None = None
    ) -> None:
        """Make the next `times` requests (to `path`, whose body contains `containing`, if given) fail."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; use one of {sorted(FAILURE_KINDS)}")
        marker = None if containing is None else containing.encode("utf-8")
        failure = _Failure(kind, None if path is None else _api_path(path), marker)
        with self._lock:
            self._failures.extend([failure] * times)

    @property
    def pending_failures(self) -> int:
        """Return how many scripted failures are still queued."""
        with self._lock:
            return len(self._failures)

    def reset(self) -> None:
        """Forget recorded requests, queued failures, generated image URLs and the reply hook."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._images.clear()
        self._responder = None

    # -- inspection -------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Return the recorded requests to one API path (with or without the `/v1` prefix)."""
        wanted = _api_path(path)
        return [r for r in self.requests if _api_path(r.path) == wanted]

    def last_request(self, path: str | None = None) -> RecordedRequest:
        """Return the most recent request (to `path`, if given); raise LookupError if there is none."""
        found = self.requests if path is None else self.requests_to(path)
        if not found:
            raise LookupError(f"no request to {path or 'any path'} yet")
        return found[-1]

    # -- internals used by the handler ------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_failure(self, path: str, body: bytes = b"") -> str | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if (failure.path is None or failure.path == path) and (
                    failure.containing is None or failure.containing in body
                ):
                    return self._failures.pop(i).kind
        return None

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}-fake{self._counter:06d}"

    def _store_image(self, data: bytes) -> str:
        image_id = self._next_id("img")
        with self._lock:
            self._images[image_id] = data
        return image_id

    def _stored_image(self, image_id: str) -> bytes | None:
        with self._lock:
            return self._images.get(image_id)

    def _sleep(self, seconds: float) -> None:
        """Sleep, but raise _Abort as soon as the server stops."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Abort

    def _reply_for(self, body: dict[str, Any]) -> str:
        responder = self._responder
        if responder is not None:
            return str(responder(body))
        users = [m for m in body.get("messages", []) if isinstance(m, Mapping) and m.get("role") == "user"]
        return "echo: " + (message_text(users[-1].get("content")) if users else "")


@contextlib.contextmanager
def fake_openai(**kwargs: Any) -> Iterator[FakeOpenAI]:
    """Run a FakeOpenAI (constructed with `kwargs`) for the duration of a with-block."""
    server = FakeOpenAI(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Server(ThreadingHTTPServer):
    """The HTTP server, tracking connections and handler threads so `stop()` can end them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeOpenAI
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash tests SIGKILL the bot) resets its connections: not a fault.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("fake-openai: client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Tracked so stop() can close idle keep-alive connections and join their threads.
        with self.fake._lock:
            self.fake._connections.add(request)
            self.fake._handler_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.fake._lock:
                self.fake._connections.discard(request)
                self.fake._handler_threads.discard(threading.current_thread())
