"""Which key goes to which server: credentials stay with the host they were made for.

``OPENAI_API_KEY`` belongs to OpenAI: it is sent to ``api.openai.com`` (or to the
``OPENAI_BASE_URL`` the user paired it with), never to another OpenAI-compatible
server named in a spec. Such a server gets a key only when one is configured for it:
``api_key=`` in Python, ``api_key_env=NAME`` in the spec (the key is read from the
environment variable ``NAME``, so it never appears in a spec string), or
``SAPIENT_LLM_API_KEY``. Otherwise the request goes out with no ``Authorization``
header at all: the SDK insists on some key, so it gets a placeholder, and an httpx
request hook removes the header before anything is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sapient.core.errors import ConfigurationError
from sapient.core.redact import redact

__all__ = ["Credentials", "credentials", "is_openai_host", "server_name"]

OPENAI_HOSTS = frozenset({"api.openai.com"})
#: What the SDK gets when no key is configured; the header never leaves the process.
_PLACEHOLDER = "sapient-no-key"


def is_openai_host(base_url: str | None) -> bool:
    """Whether requests to ``base_url`` go to OpenAI's own API (``None``: the default)."""
    if base_url is None:
        return True
    return (urlsplit(base_url).hostname or "").lower() in OPENAI_HOSTS


def server_name(base_url: str | None) -> str:
    """The server as shown in messages: its URL without credentials."""
    if base_url is None:
        return redact(os.environ.get("OPENAI_BASE_URL") or "api.openai.com")
    return redact(base_url)


@dataclass(frozen=True)
class Credentials:
    """The key for one server (``None``: send none) and where it came from."""

    key: str | None
    source: str

    def client_options(self, asynchronous: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``openai.OpenAI``/``AsyncOpenAI`` carrying this key."""
        if self.key:
            return {"api_key": self.key}
        import openai

        if asynchronous:
            async def strip_async(request: Any) -> None:
                request.headers.pop("Authorization", None)

            http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [strip_async]})
        else:
            def strip(request: Any) -> None:
                request.headers.pop("Authorization", None)

            http = openai.DefaultHttpxClient(event_hooks={"request": [strip]})
        return {"api_key": _PLACEHOLDER, "http_client": http}


def credentials(base_url: str | None, api_key: str | None = None,
                api_key_env: str | None = None) -> Credentials:
    """The key to send to ``base_url`` (see the module docstring).

    Raises:
        ConfigurationError: OpenAI itself is named and ``OPENAI_API_KEY`` is not set,
            or ``api_key_env`` names a variable that is not set.
    """
    if api_key:
        return Credentials(api_key, "api_key")
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise ConfigurationError(
                f"api_key_env names the environment variable {api_key_env}, which is not "
                f"set. Export it with the key for {server_name(base_url)}.")
        return Credentials(key, api_key_env)
    if is_openai_host(base_url):
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ConfigurationError(
                "OPENAI_API_KEY is not set. Export it, pass api_key=..., or point Sapient at a "
                "local OpenAI-compatible server: --llm 'openai:http://127.0.0.1:11434/v1#MODEL'."
            )
        return Credentials(key, "OPENAI_API_KEY")
    key = os.environ.get("SAPIENT_LLM_API_KEY")
    if key:
        return Credentials(key, "SAPIENT_LLM_API_KEY")
    return Credentials(None, "none")
