"""The request handler: reads and records a request, checks the key, fails it if scripted, routes it."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .chat import _ChatMixin
from .embeddings import _EmbeddingsMixin
from .errors import _Abort, _ApiError, _mask_key, _model_not_found
from .failures import _FailureMixin
from .images import _ImagesMixin
from .moderation import _ModerationMixin
from .recorded import RecordedRequest, _api_path, parse_multipart

log = logging.getLogger(__package__)  # the logger name of the former single module


class _Handler(_ChatMixin, _EmbeddingsMixin, _ImagesMixin, _ModerationMixin, _FailureMixin):
    """Serves one connection of the fake OpenAI server."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

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

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"}

    def _list_models(self, _request: RecordedRequest) -> None:
        self._send_json({"object": "list", "data": [self._model_entry(name) for name in self.fake.models]})

    def _get_model(self, name: str) -> None:
        if name not in self.fake.models:
            raise _model_not_found(name)
        self._send_json(self._model_entry(name))
