"""Credentials stay home: keys go only where configured, and never into messages."""

from __future__ import annotations

import json

import pytest
from fault_server import Fault
from sapient import ConfigurationError, Host, LLMError, Message
from sapient.connectors.embeddings import OpenAIEmbedder
from sapient.connectors.openai import OpenAIChat, RetryPolicy, credentials, is_openai_host
from sapient.connectors.openai import _retry as retry_module
from sapient.core.redact import REDACTED

pytestmark = pytest.mark.timeout(60)

HI = [Message.user("hi")]
USER_KEY = "sk-user-openai-key-0123456789abcdef"
LOCAL_KEY = "local-server-key-42"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", USER_KEY)
    for name in ("SAPIENT_LLM_API_KEY", "OPENAI_BASE_URL", "SAPIENT_LLM_FALLBACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(retry_module.time, "sleep", lambda s: None)


def auth(server) -> list[str | None]:
    return [{k.lower(): v for k, v in r["headers"].items()}.get("authorization")
            for r in server.requests]


def test_the_users_openai_key_never_reaches_another_server(fault_server):
    llm = Host(load_entrypoints=False).llm(f"openai:{fault_server.url}#m")
    llm.complete(HI)
    list(llm.stream(HI))
    assert llm.capabilities is not None  # the probe's requests too
    OpenAIEmbedder("e", base_url=fault_server.url).embed(["a", "b"])
    assert len(fault_server.requests) >= 4
    assert auth(fault_server) == [None] * len(fault_server.requests)


def test_a_key_configured_for_the_server_is_sent(fault_server, monkeypatch):
    monkeypatch.setenv("SAPIENT_LLM_API_KEY", LOCAL_KEY)
    OpenAIChat("m", base_url=fault_server.url, probe=False).complete(HI)
    monkeypatch.setenv("MY_SERVER_KEY", "another-key-77")
    Host(load_entrypoints=False).llm(
        f"openai:{fault_server.url}#m?api_key_env=MY_SERVER_KEY&fallback=none").complete(HI)
    assert auth(fault_server)[0] == f"Bearer {LOCAL_KEY}"
    assert auth(fault_server)[-1] == "Bearer another-key-77"


def test_which_key_goes_where(monkeypatch):
    assert credentials(None).key == USER_KEY  # OpenAI itself
    assert credentials("https://api.openai.com/v1").source == "OPENAI_API_KEY"
    assert credentials("http://127.0.0.1:8080/v1").key is None
    assert credentials("http://api.openai.com.evil.example/v1").key is None
    assert is_openai_host(None) and not is_openai_host("http://localhost:11434/v1")
    with pytest.raises(ConfigurationError, match="NOPE_KEY, which is not set"):
        credentials("http://127.0.0.1:8080/v1", api_key_env="NOPE_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY is not set"):
        credentials(None)


def test_an_error_body_echoing_the_key_is_redacted(fault_server):
    secret = "sk-configured-secret-0123456789"
    echo = json.dumps({"error": {"message": f"bad header Authorization: Bearer {secret}"}})
    fault_server.script(Fault("status", 401, body=echo), *[Fault("status", 500, body=echo)] * 2)
    llm = OpenAIChat("m", base_url=fault_server.url, api_key=secret, probe=False)
    with pytest.raises(LLMError) as refused:
        llm.complete(HI)
    llm.retry = RetryPolicy(attempts=2)
    with pytest.raises(LLMError) as failed:
        llm.complete(HI)
    for err in (refused.value, failed.value):
        assert secret not in str(err) and REDACTED in str(err)
    assert "refused the API key (401)" in str(refused.value)


def test_url_credentials_are_not_printed(fault_server):
    url = fault_server.url.replace("http://", "http://alice:s3cret-pass@")
    fault_server.script(Fault("status", 503), Fault("status", 503))
    llm = OpenAIChat("m", base_url=url, probe=False, retry=RetryPolicy(attempts=2))
    with pytest.raises(LLMError) as info:
        llm.complete(HI)
    assert "s3cret-pass" not in str(info.value) and "alice" not in str(info.value)
    assert f"http://{REDACTED}@127.0.0.1" in str(info.value)
    assert "s3cret" not in repr(llm)


def test_a_local_embedder_records_its_server(fault_server):
    embedder = Host(load_entrypoints=False).embedder(f"openai:{fault_server.url}#nomic")
    assert embedder.name == f"openai:{fault_server.url}#nomic"
    reopened = Host(load_entrypoints=False).embedder(embedder.name)
    assert reopened.base_url == fault_server.url and reopened.model_name == "nomic"
    assert OpenAIEmbedder("text-embedding-3-small").name == "openai:text-embedding-3-small"
    with_key = OpenAIEmbedder("e", base_url=fault_server.url, api_key_env="EMB_KEY")
    assert with_key.name.endswith("#e?api_key_env=EMB_KEY")


def test_embeddings_are_retried_and_fail_clearly(fault_server):
    fault_server.script(Fault("status", 503), Fault("malformed"))
    vectors = OpenAIEmbedder("e", base_url=fault_server.url).embed(["a", "b", "c"])
    assert vectors.shape == (3, 2)
    fault_server.script(*[Fault("drop")] * 4)
    with pytest.raises(LLMError, match="after 4 attempt"):
        OpenAIEmbedder("e", base_url=fault_server.url).embed(["a"])
