"""Provider failures as messages a person understands: which kind, what to do, and when to retry."""

from __future__ import annotations

import openai

from bot.errors import UserError
from bot.i18n import Msg

# What to do about a request over the model's context depends on what was asked.
TOO_LONG = {
    "chat": "That is too long for the model to read at once. Try a shorter message or `/reset` the channel.",
    "code": "That code is too long for the model to read at once. Try a smaller file or one part of it.",
    "ask": "The question and its sources are too long for the model. Try a shorter question.",
    "documents": "Part of this document is too long for the embedding model. Try splitting the file.",
    "": "That is too long for the model to read at once. Try something shorter.",
}


def param_of(exc: Exception) -> str:
    """The request parameter a provider error names, if any."""
    param = getattr(exc, "param", None)
    body = getattr(exc, "body", None)
    if not param and isinstance(body, dict):
        param = body.get("param")
    return str(param or "")


def retryable(exc: Exception) -> bool:
    """Whether trying the same request again can help."""
    if isinstance(exc, openai.RateLimitError):
        return _code(exc) != "insufficient_quota"
    if isinstance(exc, openai.APITimeoutError):
        return False  # the request already used its whole timeout; a second one doubles the wait
    return isinstance(exc, openai.InternalServerError | openai.APIConnectionError)


def _code(exc: Exception) -> str:
    code = getattr(exc, "code", None) or getattr(exc, "type", None) or ""
    body = getattr(exc, "body", None)
    if not code and isinstance(body, dict):
        code = body.get("code") or body.get("type") or ""
    return str(code)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    # OpenAI sends both; the millisecond header is the precise one (Retry-After rounds up to 1 s).
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = response.headers.get(header)
        try:
            if raw:
                return max(0.0, float(raw) / scale)
        except ValueError:
            continue
    return None


def map_error(exc: BaseException, *, model: str | None = None, feature: str | None = None) -> UserError:
    """Turn a provider failure into a message a person understands (never the raw error)."""
    if isinstance(exc, UserError):
        return exc
    code = _code(exc) if isinstance(exc, openai.OpenAIError) else ""
    message = str(getattr(exc, "message", "") or "").lower()
    named: object = f"`{model}`" if model else Msg("the configured model")
    if isinstance(exc, openai.APITimeoutError):
        return UserError(
            "The AI provider took too long to answer. Please try again in a moment.", kind="timeout"
        )
    if isinstance(exc, openai.APIConnectionError):
        return UserError(
            "The AI provider can't be reached right now. Please try again in a moment.", kind="unreachable"
        )
    if isinstance(exc, openai.RateLimitError):
        if code == "insufficient_quota" or "quota" in message:
            return UserError(
                "The AI provider account is out of quota. An admin needs to check the plan or billing.",
                kind="quota",
            )
        wait = _retry_after(exc)
        if not wait:
            return UserError(
                "The AI provider is rate-limiting us. Please try again in a moment.", kind="rate_limited"
            )
        return UserError(
            "The AI provider is rate-limiting us. Please try again in about {seconds} seconds.",
            kind="rate_limited",
            retry_after=wait,
            params={"seconds": int(wait) + 1},
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return UserError(
            "The AI provider rejected the API key. An admin needs to check OPENAI_API_KEY.",
            kind="invalid_key",
        )
    if isinstance(exc, openai.NotFoundError) or code == "model_not_found":
        return UserError(
            "The AI provider doesn't have the model {model}. An admin needs to check the model settings.",
            kind="model_not_found",
            params={"model": named},
        )
    if code == "context_length_exceeded" or "context length" in message or "maximum context" in message:
        return UserError(TOO_LONG.get(feature or "", TOO_LONG[""]), kind="context_too_long")
    if code in {"content_policy_violation", "moderation_blocked"} or "safety system" in message:
        return UserError(
            "The provider's safety system refused this request. Try wording it differently.", kind="refused"
        )
    if isinstance(exc, openai.InternalServerError):
        return UserError(
            "The AI provider had a problem on its side. Please try again in a moment.", kind="provider_error"
        )
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return UserError(
            "The AI provider sent an answer we couldn't read. Please try again.", kind="bad_response"
        )
    if isinstance(exc, openai.BadRequestError):
        return UserError("The AI provider refused this request as invalid.", kind="bad_request")
    return UserError(
        "The AI provider failed unexpectedly. Please try again in a moment.", kind="provider_error"
    )
