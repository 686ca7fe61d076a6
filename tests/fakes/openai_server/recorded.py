"""Requests as the fake OpenAI server recorded them, and multipart form parsing."""

from __future__ import annotations

import email.message
import email.utils
from dataclasses import dataclass, field
from typing import Any


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


def _api_path(path: str) -> str:
    """Return an API path without its `/v1` prefix, e.g. `/v1/models` → `/models`."""
    path = "/" + path.strip("/")
    return path[3:] or "/" if path == "/v1" or path.startswith("/v1/") else path
