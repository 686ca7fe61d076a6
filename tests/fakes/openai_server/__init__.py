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
- ``keep_requests`` bounds what ``requests`` remembers to the latest N (a long load run); unbounded by
  default.
"""

from __future__ import annotations

from .helpers import (
    DEFAULT_MODELS,
    FAILURE_KINDS,
    GPT_IMAGE_MIME_TYPES,
    IMAGE_TOKENS,
    MODEL_KINDS,
    MODERATION_CATEGORIES,
    closed_port_url,
    count_tokens,
    embed_features,
    embed_text,
    encode_embedding_base64,
    guess_model_kind,
    make_png,
    message_text,
    text_features,
)
from .recorded import RecordedRequest, UploadedFile, parse_multipart
from .server import FakeOpenAI, Responder, fake_openai

__all__ = [
    "DEFAULT_MODELS",
    "FAILURE_KINDS",
    "GPT_IMAGE_MIME_TYPES",
    "IMAGE_TOKENS",
    "MODEL_KINDS",
    "MODERATION_CATEGORIES",
    "FakeOpenAI",
    "RecordedRequest",
    "Responder",
    "UploadedFile",
    "closed_port_url",
    "count_tokens",
    "embed_features",
    "embed_text",
    "encode_embedding_base64",
    "fake_openai",
    "guess_model_kind",
    "make_png",
    "message_text",
    "parse_multipart",
    "text_features",
]
