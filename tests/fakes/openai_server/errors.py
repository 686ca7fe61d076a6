"""OpenAI-shaped error answers, and the parameter checks that raise them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
