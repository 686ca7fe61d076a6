"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests, served from its own thread.

Use it through the real `openai` client::

    with fake_openai(api_key="sk-test") as server:
        client = AsyncOpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        server.reply_with("hello")
        server.fail_next("rate_limit", path="/chat/completions")

Behaviour in short:

- Chat replies reflect the input: ``"echo: " + <text of the last user message>`` (image parts read
  as ``[image]``) unless ``reply_with`` sets a text or a callable. Streams split the reply by words.
  Usage: ``count_tokens`` of every message (85 per image part) and of the reply.
- Embeddings are hashed bags of words (CJK as character bigrams), L2-normalised, so texts sharing
  words are closer. The client asks for base64 by default; both formats are served.
- Images are real PNGs, ``image_scale`` times the requested size (1/16 by default: 1024 → 64 px)
  so tests stay fast. DALL·E models answer with URLs unless ``response_format="b64_json"``, as
  OpenAI does; GPT image models always answer with ``b64_json``.
  Edits and variations without ``size`` keep the first input image's own size. With
  ``validate_images`` (default) inputs must decode with Pillow, masks must match the image, and
  GPT image models refuse parts whose mimetype is not png/jpeg/webp, as OpenAI does.
- Moderation flags any input containing ``flag_word`` (default ``FLAGME``) in ``flag_categories``.
- ``context_limit`` (None by default) answers ``context_length_exceeded`` for longer chat prompts.
- ``fail_next(kind, times, path, containing=...)`` queues failures, each consumed by one request (to
  ``path`` only, and whose raw body contains ``containing``, if given) after the API key check passed:

  ``rate_limit``         429 ``rate_limit_exceeded``, ``Retry-After`` and ``retry-after-ms`` (``retry_after``)
  ``quota``              429 ``insufficient_quota``
  ``server_error``       500; ``unavailable``: 503
  ``timeout``            sends nothing for ``timeout_sleep`` seconds, then drops the connection
  ``broken_stream``      a stream sends two chunks and drops; other answers drop mid-body
  ``disconnect``         drops the connection without answering
  ``malformed``          200 whose JSON (or SSE event) does not parse
  ``context_length``     400 ``context_length_exceeded``
  ``invalid_key``        401 ``invalid_api_key``; ``model_not_found``: 404
  ``content_policy``     400 ``content_policy_violation``; ``moderation_blocked``: 400 (GPT image style)

  A refused connection is not a server behaviour: point the client at ``closed_port_url()``.
- ``latency`` delays every answer; ``stream_delay`` spaces stream chunks. Both, and ``timeout``, end
  at once on ``stop()``.
"""

from __future__ import annotations

import base64
import contextlib
import email.message
import email.utils
import hashlib
import io
import json
import logging
import math
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

DEFAULT_MODELS: dict[str, str] = {
    "gpt-4o-mini": "chat",
    "text-embedding-3-small": "embedding",
    "gpt-image-1": "image",
    "dall-e-3": "image",
    "omni-moderation-latest": "moderation",
}
MODEL_KINDS = frozenset({"chat", "embedding", "image", "moderation"})
FAILURE_KINDS = frozenset(
    {
        "rate_limit",
        "quota",
        "server_error",
        "unavailable",
        "timeout",
        "broken_stream",
        "malformed",
        "context_length",
        "invalid_key",
        "model_not_found",
        "content_policy",
        "moderation_blocked",
        "disconnect",
    }
)
IMAGE_TOKENS = 85
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
GPT_IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")

Responder = Callable[[dict[str, Any]], str]

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+")
_CJK_RE = re.compile(rf"[{_CJK}]")
_STREAM_PIECE_RE = re.compile(r"\s*\S+|\s+$")
_MAX_STREAM_PIECE = 12


# ---------------------------------------------------------------------------------------------------------
# Pure helpers (public so tests can compute the values they expect)


def message_text(content: Any) -> str:
    """Return the text of a chat message's content, with non-text parts as `[image]`-style markers."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            pieces.append(str(part))
        elif part.get("type") == "text":
            pieces.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            pieces.append("[image]")
        else:
            pieces.append(f"[{part.get('type', 'part')}]")
    return " ".join(pieces)


def count_tokens(text: str) -> int:
    """Count words roughly as tokens: each latin word or number is one, each CJK character is one."""
    total = 0
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        total += len(token) if _CJK_RE.match(token) else 1
    return total


def text_features(text: str) -> list[str]:
    """Return the embedding features of a text: lowercase words, and CJK runs as character bigrams."""
    features: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        token = match.group()
        if _CJK_RE.match(token) and len(token) > 1:
            features.extend(token[i : i + 2] for i in range(len(token) - 1))
        else:
            features.append(token)
    return features


def embed_features(features: Iterable[str], dimensions: int) -> list[float]:
    """Hash features into `dimensions` buckets and L2-normalise; no features gives a fixed unit vector."""
    vector = [0.0] * dimensions
    for feature in features:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        return [1.0 / math.sqrt(dimensions)] * dimensions
    return [v / norm for v in vector]


def embed_text(text: str, dimensions: int = 512) -> list[float]:
    """Return the fake embedding of a text."""
    return embed_features(text_features(text), dimensions)


def encode_embedding_base64(vector: list[float]) -> str:
    """Encode a vector as OpenAI does for `encoding_format="base64"`: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def guess_model_kind(model: str) -> str:
    """Guess what a model name is for: chat, embedding, image or moderation."""
    name = model.lower()
    if "embedding" in name:
        return "embedding"
    if "moderation" in name:
        return "moderation"
    if name.startswith(("gpt-image", "dall-e")) or "image" in name:
        return "image"
    return "chat"


def closed_port_url() -> str:
    """Return a base URL on 127.0.0.1 where nothing listens, to provoke a refused connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def make_png(width: int, height: int, seed: str) -> bytes:
    """Draw a deterministic PNG of the given size, coloured from `seed`."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    image = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(digest[3], digest[4], digest[5])
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Recorded requests


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        """Return the byte length of the file."""
        return len(self.data)


@dataclass
class RecordedRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    received_at: float = 0.0

    def file(self, name: str) -> UploadedFile | None:
        """Return the first uploaded file of the form field `name` (also matches `name[]`)."""
        return next((f for f in self.files if f.field in (name, f"{name}[]")), None)

    def files_named(self, name: str) -> list[UploadedFile]:
        """Return every uploaded file of the form field `name` (also matches `name[]`)."""
        return [f for f in self.files if f.field in (name, f"{name}[]")]


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], list[UploadedFile]]:
    """Split a multipart/form-data body into text fields and files."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without a boundary")
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    # The delimiter includes the CRLF before it, so part bodies need no trimming.
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without a header block")
        part = email.message_from_string(head.lstrip(b" \t\r\n").decode("utf-8", "replace"))
        name = email.utils.collapse_rfc2231_value(part.get_param("name", "", header="content-disposition"))
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            files.append(
                UploadedFile(name, filename, part.get_content_type() if part["content-type"] else None, data)
            )
    return fields, files


# ---------------------------------------------------------------------------------------------------------
# Errors


class _ApiError(Exception):
    """An OpenAI-shaped error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = dict(headers or {})


class _Abort(Exception):
    """Drop the connection without (finishing) an answer."""


def _missing(param: str) -> _ApiError:
    return _ApiError(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _invalid(param: str, value: Any, why: str = "") -> _ApiError:
    message = f"Invalid value for '{param}': {value!r}.{' ' + why if why else ''}"
    return _ApiError(400, message, param=param, code="invalid_value")


def _mask_key(key: str) -> str:
    return key if len(key) <= 8 else f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


# ---------------------------------------------------------------------------------------------------------
# The server


@dataclass
class _Failure:
    kind: str
    path: str | None
    containing: bytes | None = None


def _api_path(path: str) -> str:
    path = "/" + path.strip("/")
    return path[3:] or "/" if path == "/v1" or path.startswith("/v1/") else path


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
        self._requests: list[RecordedRequest] = []
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


# ---------------------------------------------------------------------------------------------------------
# Request handling


def _chat_prompt_tokens(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "text":
                    total += count_tokens(str(part.get("text", "")))
                elif isinstance(part, Mapping) and part.get("type") == "image_url":
                    total += IMAGE_TOKENS
    return total


def _stream_pieces(text: str) -> list[str]:
    pieces: list[str] = []
    for word in _STREAM_PIECE_RE.findall(text):
        pieces.extend(word[i : i + _MAX_STREAM_PIECE] for i in range(0, len(word), _MAX_STREAM_PIECE))
    return pieces


def _parse_size(size: Any, default: tuple[int, int] = (1024, 1024)) -> tuple[int, int]:
    if size in (None, "auto"):
        return default
    match = re.fullmatch(r"(\d+)x(\d+)", str(size))
    if not match:
        raise _invalid("size", size, "Expected a size like '1024x1024' or 'auto'.")
    return int(match.group(1)), int(match.group(2))


def _int_param(value: Any, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(name, value, "Expected an integer.") from None
    if not low <= number <= high:
        raise _invalid(name, value, f"Expected a value between {low} and {high}.")
    return number


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Streams are many small writes: with Nagle's algorithm each waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server
    _headers_sent = False

    # -- plumbing ---------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake-openai: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake

    def _serve(self) -> None:
        self._headers_sent = False
        try:
            self._serve_request()
        except _Abort:
            self.close_connection = True
        except OSError as exc:
            log.debug("fake-openai: connection lost: %s", exc)
            self.close_connection = True
        except Exception:
            log.exception("fake-openai: handler crashed")
            self.close_connection = True
            if not self._headers_sent:
                with contextlib.suppress(OSError):
                    self._send_error(_ApiError(500, "The fake server crashed; see the log.", "server_error"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve_request(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        body = self._read_body()
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        content_type = self.headers.get("Content-Type", "")
        parse_error: _ApiError | None = None
        try:
            if content_type.startswith("multipart/form-data"):
                request.form, request.files = parse_multipart(body, content_type)
            elif body:
                request.json = json.loads(body)
        except ValueError as exc:
            parse_error = _ApiError(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                f"sent was not valid JSON.) [{exc}]",
            )
        fake._record(request)
        fake._sleep(fake.latency)

        path = _api_path(split.path)
        if split.path.startswith("/_fake/images/") and self.command == "GET":
            self._serve_stored_image(split.path.removeprefix("/_fake/images/").removesuffix(".png"))
            return
        try:
            self._check_auth()
            failure = fake._take_failure(path, body)
            if failure is not None:
                self._fail(failure, request)
                return
            if parse_error is not None:
                raise parse_error
            self._route(path, request)
        except _ApiError as error:
            self._send_error(error)

    def _check_auth(self) -> None:
        expected = self.fake.api_key
        if expected is None:
            return
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            raise _ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="invalid_api_key",
            )
        key = given.removeprefix("Bearer ").strip()
        if key != expected:
            raise _ApiError(
                401,
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.fake._next_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._headers_sent = True
        self.wfile.write(data)

    def _send_json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", headers)

    def _send_error(self, error: _ApiError) -> None:
        self._send_json(error.body, error.status, error.headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.fake._next_id("req"))
        self.end_headers()
        self._headers_sent = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._write_chunk(f"data: {text}\n\n".encode())

    def _end_stream(self) -> None:
        self._write_chunk(b"")

    # -- failures ---------------------------------------------------------------------------------------

    def _fail(self, kind: str, request: RecordedRequest) -> None:
        fake = self.fake
        source: Mapping[str, Any] = request.json if isinstance(request.json, dict) else request.form
        model = str(source.get("model") or "unknown-model")
        streaming = isinstance(request.json, dict) and bool(request.json.get("stream"))
        if kind == "timeout":
            fake._sleep(fake.timeout_sleep)
            raise _Abort
        if kind == "disconnect":
            raise _Abort
        if kind == "broken_stream":
            if streaming:
                self._start_stream()
                chunk_id = fake._next_id("chatcmpl")
                for piece in ("This answer ", "stops "):
                    self._write_event(self._chunk(chunk_id, model, {"content": piece}, None))
                    fake._sleep(fake.stream_delay)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self._headers_sent = True
                self.wfile.write(b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [')
            raise _Abort
        if kind == "malformed":
            if streaming:
                self._start_stream()
                self._write_event('{"id": "chatcmpl-broken", "choices": [{"delta": ')
                self._write_event("[DONE]")
                self._end_stream()
            else:
                self._send_bytes(
                    200, b'{"id": "chatcmpl-broken", "choices": [{"message": ', "application/json"
                )
            return
        raise self._failure_error(kind, model)

    def _failure_error(self, kind: str, model: str) -> _ApiError:
        fake = self.fake
        if kind == "rate_limit":
            headers = {
                "Retry-After": str(max(1, math.ceil(fake.retry_after))),
                "retry-after-ms": str(round(fake.retry_after * 1000)),
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{round(fake.retry_after * 1000)}ms",
            }
            return _ApiError(
                429,
                f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
                "Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/"
                "rate-limits to learn more.",
                "requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if kind == "quota":
            return _ApiError(
                429,
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes"
                "/api-errors.",
                "insufficient_quota",
                code="insufficient_quota",
            )
        if kind == "server_error":
            return _ApiError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            )
        if kind == "unavailable":
            return _ApiError(
                503, "The engine is currently overloaded, please try again later.", "server_error"
            )
        if kind == "context_length":
            return _context_length_error(
                self.fake.context_limit or 128000, (self.fake.context_limit or 128000) + 1
            )
        if kind == "invalid_key":
            return _ApiError(
                401,
                "Incorrect API key provided: sk-****. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if kind == "model_not_found":
            return _model_not_found(model)
        if kind == "content_policy":
            return _ApiError(
                400,
                "Your request was rejected as a result of our safety system. Your prompt may contain text "
                "that is not allowed by our safety system.",
                param=None,
                code="content_policy_violation",
            )
        if kind == "moderation_blocked":
            return _ApiError(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, contact us "
                "at help.openai.com and include the request ID req_fake.",
                "image_generation_user_error",
                code="moderation_blocked",
            )
        raise AssertionError(kind)

    # -- routes -----------------------------------------------------------------------------------------

    def _route(self, path: str, request: RecordedRequest) -> None:
        routes: dict[tuple[str, str], Callable[[RecordedRequest], None]] = {
            ("GET", "/models"): self._list_models,
            ("POST", "/chat/completions"): self._chat,
            ("POST", "/embeddings"): self._embeddings,
            ("POST", "/images/generations"): self._image_generations,
            ("POST", "/images/edits"): self._image_edits,
            ("POST", "/images/variations"): self._image_variations,
            ("POST", "/moderations"): self._moderations,
        }
        route = routes.get((self.command, path))
        if route is not None:
            route(request)
        elif self.command == "GET" and path.startswith("/models/"):
            self._get_model(path.removeprefix("/models/"))
        else:
            raise _ApiError(404, f"Invalid URL ({self.command} {request.path})")

    def _serve_stored_image(self, image_id: str) -> None:
        data = self.fake._stored_image(image_id)
        if data is None:
            self._send_bytes(404, b"not found", "text/plain")
        else:
            self._send_bytes(200, data, "image/png")

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"}

    def _list_models(self, _request: RecordedRequest) -> None:
        self._send_json({"object": "list", "data": [self._model_entry(name) for name in self.fake.models]})

    def _get_model(self, name: str) -> None:
        if name not in self.fake.models:
            raise _model_not_found(name)
        self._send_json(self._model_entry(name))

    def _require_model(self, model: Any, kind: str, endpoint: str) -> str:
        if model is None:
            raise _missing("model")
        name = str(model)
        actual = self.fake.models.get(name)
        if actual is None:
            raise _model_not_found(name)
        if actual == kind:
            return name
        if kind == "chat":
            raise _ApiError(
                404,
                "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
                "Did you mean to use v1/completions?",
                param="model",
            )
        allowed = ", ".join(f"'{m}'" for m, k in self.fake.models.items() if k == kind)
        raise _ApiError(
            400,
            f"Invalid value: '{name}'. Supported values for {endpoint} are: {allowed}.",
            param="model",
            code="invalid_value",
        )

    @staticmethod
    def _json_body(request: RecordedRequest) -> dict[str, Any]:
        if not isinstance(request.json, dict):
            raise _ApiError(400, "The request body must be a JSON object.")
        return request.json

    # -- chat -------------------------------------------------------------------------------------------

    def _chunk(self, chunk_id: str, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _chat(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = self._require_model(body.get("model"), "chat", "chat completions")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _missing("messages")
        prompt_tokens = _chat_prompt_tokens(messages)
        if fake.context_limit is not None and prompt_tokens > fake.context_limit:
            raise _context_length_error(fake.context_limit, prompt_tokens)
        reply = fake._reply_for(body)
        finish = "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and count_tokens(reply) > limit:
            reply = "".join(_stream_pieces(reply)[:limit])
            finish = "length"
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": count_tokens(reply),
            "total_tokens": prompt_tokens + count_tokens(reply),
        }
        chat_id = fake._next_id("chatcmpl")
        if not body.get("stream"):
            self._send_json(
                {
                    "id": chat_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                }
            )
            return
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

        def send(delta: dict[str, Any], finish_reason: str | None) -> None:
            chunk = self._chunk(chat_id, model, delta, finish_reason)
            if include_usage:
                chunk["usage"] = None
            self._write_event(chunk)

        self._start_stream()
        send({"role": "assistant", "content": "", "refusal": None}, None)
        for piece in _stream_pieces(reply):
            fake._sleep(fake.stream_delay)
            send({"content": piece}, None)
        send({}, finish)
        if include_usage:
            final = self._chunk(chat_id, model, {}, None)
            final["choices"] = []
            final["usage"] = usage
            self._write_event(final)
        self._write_event("[DONE]")
        self._end_stream()

    # -- embeddings -------------------------------------------------------------------------------------

    def _embeddings(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = self._require_model(body.get("model"), "embedding", "embeddings")
        if "input" not in body:
            raise _missing("input")
        feature_lists, prompt_tokens = _embedding_inputs(body["input"])
        dimensions = _int_param(body.get("dimensions"), "dimensions", fake.embedding_dimensions, 1, 65536)
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _invalid("encoding_format", encoding, "Expected 'float' or 'base64'.")
        data = []
        for index, features in enumerate(feature_lists):
            vector = embed_features(features, dimensions)
            value: Any = encode_embedding_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": value})
        self._send_json(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
            }
        )

    # -- images -----------------------------------------------------------------------------------------

    def _scaled(self, size: tuple[int, int]) -> tuple[int, int]:
        scale = self.fake.image_scale
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))

    def _images_response(
        self,
        model: str,
        prompt: str,
        n: int,
        size: tuple[int, int],
        response_format: Any,
        input_images: int = 0,
    ) -> dict[str, Any]:
        fake = self.fake
        gpt_image = not model.startswith("dall-e")
        if response_format not in (None, "url", "b64_json"):
            raise _invalid("response_format", response_format, "Expected 'url' or 'b64_json'.")
        as_url = not gpt_image and response_format != "b64_json"
        data = []
        for index in range(n):
            png = make_png(*size, seed=f"{model}|{prompt}|{index}")
            entry: dict[str, Any] = {}
            if as_url:
                entry["url"] = f"{fake.url}/_fake/images/{fake._store_image(png)}.png"
            else:
                entry["b64_json"] = base64.b64encode(png).decode("ascii")
            if model == "dall-e-3":
                entry["revised_prompt"] = f"A detailed, vivid rendering of: {prompt}"
            data.append(entry)
        answer: dict[str, Any] = {"created": int(time.time()), "data": data}
        if gpt_image:
            text_tokens = count_tokens(prompt)
            image_tokens = 65 * input_images
            answer.update(
                background="opaque",
                output_format="png",
                quality="low",
                size=f"{size[0]}x{size[1]}",
                usage={
                    "input_tokens": text_tokens + image_tokens,
                    "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
                    "output_tokens": 272 * n,
                    "total_tokens": text_tokens + image_tokens + 272 * n,
                },
            )
        return answer

    def _image_generations(self, request: RecordedRequest) -> None:
        body = self._json_body(request)
        model = self._require_model(body.get("model", "gpt-image-1"), "image", "image generation")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise _missing("prompt")
        n = _int_param(body.get("n"), "n", 1, 1, 10)
        if model == "dall-e-3" and n != 1:
            raise _ApiError(400, "You must provide n=1 for this model.", param="n", code="invalid_value")
        size = self._scaled(_parse_size(body.get("size")))
        self._send_json(self._images_response(model, prompt, n, size, body.get("response_format")))

    def _check_image_file(self, upload: UploadedFile, model: str, index: int) -> tuple[int, int] | None:
        if not self.fake.validate_images:
            return None
        if model.startswith("gpt-image") and upload.content_type not in GPT_IMAGE_MIME_TYPES:
            raise _ApiError(
                400,
                f"Invalid file '{upload.field}': unsupported mimetype ('{upload.content_type}'). "
                "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                param=upload.field,
                code="unsupported_file_mimetype",
            )
        try:
            with Image.open(io.BytesIO(upload.data)) as image:
                return image.size
        except Exception:
            raise _ApiError(
                400,
                f"Invalid image file or mode for image {index}, please check your image file.",
                param=upload.field,
                code="invalid_image_format",
            ) from None

    def _image_edits(self, request: RecordedRequest) -> None:
        form = request.form
        model = self._require_model(form.get("model", "gpt-image-1"), "image", "image edits")
        images = request.files_named("image")
        if not images:
            raise _missing("image")
        prompt = form.get("prompt")
        if not prompt:
            raise _missing("prompt")
        sizes = [self._check_image_file(upload, model, i + 1) for i, upload in enumerate(images)]
        mask = request.file("mask")
        if mask is not None:
            mask_size = self._check_image_file(mask, model, 0)
            if mask_size is not None and sizes[0] is not None and mask_size != sizes[0]:
                raise _ApiError(
                    400,
                    "Invalid mask image: the mask and the image must have the same dimensions.",
                    param="mask",
                    code="invalid_image_format",
                )
        n = _int_param(form.get("n"), "n", 1, 1, 10)
        size = self._edit_size(form.get("size"), sizes[0])
        self._send_json(
            self._images_response(model, prompt, n, size, form.get("response_format"), len(images))
        )

    def _image_variations(self, request: RecordedRequest) -> None:
        form = request.form
        model = self._require_model(form.get("model", "dall-e-2"), "image", "image variations")
        image = request.file("image")
        if image is None:
            raise _missing("image")
        source_size = self._check_image_file(image, model, 1)
        n = _int_param(form.get("n"), "n", 1, 1, 10)
        size = self._edit_size(form.get("size"), source_size)
        self._send_json(self._images_response(model, "variation", n, size, form.get("response_format"), 1))

    def _edit_size(self, size: str | None, source: tuple[int, int] | None) -> tuple[int, int]:
        # Without an explicit size the edit keeps the source image's own size (unscaled).
        if size in (None, "auto") and source is not None:
            return source
        return self._scaled(_parse_size(size))

    # -- moderation -------------------------------------------------------------------------------------

    def _moderations(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = body.get("model")
        model = (
            "omni-moderation-latest"
            if model is None
            else self._require_model(model, "moderation", "moderations")
        )
        raw = body.get("input")
        if raw is None:
            raise _missing("input")
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            texts = list(raw)
        elif isinstance(raw, list):
            texts = [message_text(raw)]
        else:
            raise _invalid("input", raw)
        results = []
        for text in texts:
            flagged = bool(fake.flag_word) and fake.flag_word in text
            hit = {c: flagged and c in fake.flag_categories for c in MODERATION_CATEGORIES}
            results.append(
                {
                    "flagged": flagged,
                    "categories": hit,
                    "category_scores": {c: 0.98 if hit[c] else 0.0001 for c in MODERATION_CATEGORIES},
                    "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
                }
            )
        self._send_json({"id": fake._next_id("modr"), "model": model, "results": results})


def _embedding_inputs(raw: Any) -> tuple[list[list[str]], int]:
    """Turn an embeddings `input` into feature lists and a token count."""
    if isinstance(raw, str):
        texts: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str | list) for x in raw):
        texts = raw
    else:
        raise _invalid("input", raw, "Expected a string, a list of strings or a list of token arrays.")
    features: list[list[str]] = []
    tokens = 0
    for item in texts:
        if isinstance(item, str):
            features.append(text_features(item))
            tokens += count_tokens(item)
        elif all(isinstance(t, int) for t in item):
            features.append([f"#{t}" for t in item])
            tokens += len(item)
        else:
            raise _invalid("input", raw, "Token arrays must hold integers.")
    return features, tokens


def _model_not_found(model: str) -> _ApiError:
    return _ApiError(
        404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
    )


def _context_length_error(limit: int, requested: int) -> _ApiError:
    return _ApiError(
        400,
        f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
        f"{requested} tokens. Please reduce the length of the messages.",
        param="messages",
        code="context_length_exceeded",
    )
