"""A secret the model streams in pieces does not leave ``sapient serve``: the SSE stream
carries the same redacted text as the non-streamed answer (official ``openai`` client
and the raw bytes, on 127.0.0.1)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import openai
from sapient import LLMResponse, StreamDelta
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.serve import ServeConfig

KEY = "sk-live-" + "Q7w" * 14
TOKEN = "ghp_" + "a1B2" * 9
ANSWER = (f"Your deployment uses the key {KEY} for the model and {TOKEN} for the "
          "repository; rotate both after the demo. Everything else in the config is fine "
          "and needs no change before the release on Friday.")


class ChunkingLLM(ScriptedLLM):
    """Streams its answer four characters at a time, so the secrets arrive split."""

    def stream(self, messages, tools=(), **options) -> Iterator[StreamDelta | LLMResponse]:
        response = self.complete(messages, tools, **options)
        text = response.text or ""
        for i in range(0, len(text), 4):
            yield StreamDelta(text[i:i + 4])
        yield response


def test_streamed_secret_is_redacted_like_the_whole_answer(serve_app, host):
    server = serve_app(ServeConfig(llm=ChunkingLLM(function=lambda m, t, o: ANSWER), tools=[]),
                       host)
    c = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=30)
    question = [{"role": "user", "content": "Is my config fine?"}]
    whole = c.chat.completions.create(model="sapient", messages=question)
    redacted = whole.choices[0].message.content
    assert KEY not in redacted and TOKEN not in redacted and redacted.count("[REDACTED]") == 2

    chunks = list(c.chat.completions.create(model="sapient", messages=question, stream=True))
    deltas = [ch.choices[0].delta.content for ch in chunks
              if ch.choices and ch.choices[0].delta.content]
    assert "".join(deltas) == redacted
    assert len(deltas) >= 5  # still a stream, not one block at the end

    body = json.dumps({"model": "sapient", "messages": question, "stream": True}).encode()
    request = urllib.request.Request(f"{server.url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read().decode()
    assert raw.rstrip().endswith("data: [DONE]")
    for piece in (KEY, TOKEN, KEY[:16], TOKEN[:12]):
        assert piece not in raw
