"""Server failures as one kind of error: :class:`LLMError`, redacted, saying what to check.

Whatever breaks on the way (an HTTP status, a dropped connection, a body that is not
JSON or not a completion), the caller sees an :class:`LLMError` whose ``retryable``
says whether trying again can help, never a raw ``JSONDecodeError`` or
``AttributeError``. Server messages are redacted (an error body may echo the
``Authorization`` header) and the server is named without URL credentials.
"""

from __future__ import annotations

from typing import Any

from sapient.core.errors import LLMError
from sapient.core.redact import REDACTED, redact

from ._retry import Attempts, MalformedResponse

__all__ = ["as_llm_error", "gave_up", "is_transport_error", "scrub"]

#: Statuses worth another try (besides 429 and 5xx).
_RETRY_STATUS = frozenset({408, 409, 425})


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without the keys this connector knows, nor anything shaped like a secret
    (``sapient.core.redact``, which also knows the keys held in the environment)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return redact(text)


def is_transport_error(exc: BaseException) -> bool:
    """An error from the HTTP stack below the SDK (httpx, httpcore, h11, sockets)."""
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or module in ("httpx", "httpx2", "httpcore", "h11", "anyio")


def as_llm_error(exc: BaseException, *, where: str, model: str, timeout: float,
                 secrets: tuple[str, ...] = ()) -> LLMError:
    """The :class:`LLMError` for any failure of one request to ``where``."""
    import openai

    if isinstance(exc, LLMError):
        return exc
    ctx: dict[str, Any] = {"provider": "openai", "model": model}
    said = scrub(str(getattr(exc, "message", None) or exc), secrets)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMError(f"The server at {where} refused the API key ({exc.status_code}): "
                        f"{said}. Check the key configured for it (OPENAI_API_KEY is sent to "
                        "OpenAI only; other servers get api_key_env= from the spec, or "
                        "SAPIENT_LLM_API_KEY).", status_code=exc.status_code, **ctx)
    if isinstance(exc, openai.NotFoundError):
        return LLMError(f"{where} does not know model '{model}' (404): {said}. List the "
                        "server's models and pass one of them, and check the URL's path.",
                        status_code=404, **ctx)
    if isinstance(exc, openai.RateLimitError):
        return LLMError(f"Rate limited by {where} (429): {said}. Wait and try again, or lower "
                        "the request rate.", status_code=429, retryable=True, **ctx)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(f"No answer from {where} within {timeout:g} s. Raise timeout= or check "
                        "the server.", retryable=True, **ctx)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"Cannot connect to {where}, or the connection broke: {said}. Is the "
                        "server running and the URL right?", retryable=True, **ctx)
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        return LLMError(f"{where} answered {code}: {said}", status_code=code,
                        retryable=code == 429 or code >= 500 or code in _RETRY_STATUS, **ctx)
    if isinstance(exc, ValueError | TypeError | AttributeError | KeyError | IndexError):
        return MalformedResponse(
            f"{where} sent a reply that is not a valid chat completion ({type(exc).__name__}: "
            f"{scrub(str(exc), secrets)[:200]}).", retryable=True, **ctx)
    if is_transport_error(exc):
        return LLMError(f"The connection to {where} broke: {type(exc).__name__}: "
                        f"{scrub(str(exc), secrets)[:200]}.", retryable=True, **ctx)
    return LLMError(f"The request to {where} failed: {type(exc).__name__}: {said}", **ctx)


def gave_up(tries: Attempts, *, where: str, model: str, fallback_hint: bool = True
            ) -> LLMError:
    """The one error raised when the retries of a request are spent."""
    last = tries.last
    assert isinstance(last, LLMError)
    if tries.count == 1 and not tries.out_of_time:
        return last  # one try only (or an error no retry can fix): its message says it all
    hint = (" or configure a fallback model (fallback= in the spec, or SAPIENT_LLM_FALLBACK)"
            if fallback_hint else "")
    err = LLMError(
        f"The LLM server at {where} (model '{model}') failed after {tries.count} "
        f"attempt(s) in {tries.seconds:.1f} s ({tries.gave_up}). Last error: {last} "
        f"Check that the server is running, reachable and not overloaded{hint}.",
        provider="openai", model=model, status_code=last.status_code,
        retryable=last.retryable)
    err.attempts = tries.count  # type: ignore[attr-defined]
    return err
