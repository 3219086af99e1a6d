"""LangChain interop on langchain-core: tools both ways, chat models as Sapient LLMs (with
langchain-core's fake chat models), Sapient search as a retriever, loaders into an index."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import StructuredTool, ToolException  # noqa: E402
from langchain_core.tools import tool as lc_tool  # noqa: E402
from sapient import Agent, Host, Message, ToolCall, tool  # noqa: E402
from sapient.connectors.langchain import (  # noqa: E402
    LangChainLLM,
    as_retriever,
    from_langchain_tool,
    ingest_langchain_documents,
    load_documents,
    to_langchain_messages,
    to_langchain_tool,
)
from sapient.connectors.scripted import ScriptedLLM  # noqa: E402


@tool
def area(width: float, height: float = 1.0) -> float:
    """Area of a rectangle.

    Args:
        width: the width in metres.
        height: the height in metres.
    """
    return width * height


def _usage(i: int, o: int) -> dict:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


# -- tools both ways ---------------------------------------------------------------------


def test_sapient_tool_as_langchain_tool_and_back() -> None:
    lc = to_langchain_tool(area)
    assert lc.name == "area" and lc.description == area.description
    assert lc.invoke({"width": 3, "height": 2}) == "6.0"
    refused = lc.invoke({"width": "wide"})  # validated by Sapient, reported to the model
    assert "Invalid arguments for tool 'area'" in refused and "width" in refused
    back = from_langchain_tool(lc)
    assert back.name == "area"
    assert back.parameters["properties"] == area.parameters["properties"]
    assert back.parameters["required"] == ["width"]
    assert back.invoke(back.validate({"width": 2, "height": 5})) == "10.0"


def test_langchain_tools_in_a_sapient_agent() -> None:
    @lc_tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    async def slow_echo(text: str) -> str:
        return text.upper()

    aecho = StructuredTool.from_function(coroutine=slow_echo, name="shout",
                                         description="Repeat text loudly.")

    def refuse(city: str) -> str:
        raise ToolException(f"no weather data for {city}")

    weather = StructuredTool.from_function(func=refuse, name="weather",
                                           description="Weather in a city.")
    tools = [from_langchain_tool(t) for t in (multiply, aecho, weather)]
    assert tools[0].parameters["required"] == ["a", "b"]
    llm = ScriptedLLM([
        [ToolCall("multiply", {"a": 6, "b": 7}), ToolCall("shout", {"text": "hi"})],
        ToolCall("weather", {"city": "Oslo"}),
        ToolCall("multiply", {"a": "six"}),
        "6 x 7 = 42",
    ])
    result = Agent(llm, tools=tools).run("What is 6 times 7?")
    calls = {r.name + str(i): r for i, r in enumerate(result.tool_calls)}
    assert calls["multiply0"].result == "42" and calls["shout1"].result == "HI"
    assert "no weather data for Oslo" in calls["weather2"].error
    assert "'b' is a required property" in calls["multiply3"].error
    assert result.answer == "6 x 7 = 42"


# -- chat models as LLMs -------------------------------------------------------------------


def test_langchain_chat_model_drives_a_sapient_agent_with_tool_calls_and_usage() -> None:
    fake = FakeMessagesListChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": "area", "args": {"width": 4, "height": 2.5},
                                           "id": "call_1"}], usage_metadata=_usage(30, 9)),
        AIMessage(content="", invalid_tool_calls=[{"name": "area", "args": "{width: 4",
                                                   "id": "call_2", "error": "bad json"}],
                  usage_metadata=_usage(40, 5)),
        AIMessage(content="The room is 10 square metres.", usage_metadata=_usage(55, 8),
                  response_metadata={"finish_reason": "stop", "model_name": "fake-1"}),
    ])
    result = Agent(LangChainLLM(fake), tools=[area]).run("How big is a 4 by 2.5 m room?")
    assert result.ok and result.answer == "The room is 10 square metres."
    first, second = result.tool_calls
    assert first.result == "10.0" and first.call_id == "call_1"
    assert "not valid JSON" in second.error  # the malformed call went back to the model
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (125, 22)
    assert result.usage.requests == 3


def test_messages_map_to_langchain_and_back() -> None:
    history = [
        Message.system("Be brief."), Message.user("Area of 2x3?"),
        Message.assistant(None, [ToolCall("area", '{"width": 2, "height": 3}', "c9")]),
        Message.tool("6.0", tool_call_id="c9", name="area"),
    ]
    lc = to_langchain_messages(history)
    assert [type(m).__name__ for m in lc] == ["SystemMessage", "HumanMessage", "AIMessage",
                                              "ToolMessage"]
    assert lc[2].tool_calls[0]["args"] == {"width": 2, "height": 3}
    assert isinstance(lc[3], ToolMessage) and lc[3].tool_call_id == "c9"
    assert isinstance(lc[1], HumanMessage)


def test_streaming_through_a_langchain_model() -> None:
    fake = GenericFakeChatModel(messages=iter(["Hello there, general Kenobi."]))
    agent = Agent(LangChainLLM(fake))
    events = list(agent.stream("hi"))
    deltas = "".join(e.text for e in events if e.kind == "TextDelta")
    assert deltas == "Hello there, general Kenobi."
    assert events[-1].kind == "FinalAnswer" and events[-1].text == deltas


def test_langchain_model_from_an_llm_spec() -> None:
    spec = "langchain:langchain_core.language_models.fake_chat_models.ParrotFakeChatModel"
    llm = Host().llm(spec)
    assert isinstance(llm, LangChainLLM)
    assert Agent(llm).run("polly wants a cracker").answer == "polly wants a cracker"


# -- documents: retriever and loaders --------------------------------------------------------


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("faiss")
    return Host().embedder("sentence-transformers:all-MiniLM-L6-v2")


LOADER_MODULE = textwrap.dedent('''
    from langchain_core.document_loaders import BaseLoader
    from langchain_core.documents import Document

    class FaqLoader(BaseLoader):
        """One Document per "Q: ... A: ..." block of a text file."""

        def __init__(self, path, encoding="utf-8"):
            self.path, self.encoding = path, encoding

        def lazy_load(self):
            text = open(self.path, encoding=self.encoding).read()
            for n, block in enumerate(b for b in text.split("\\n\\n") if b.strip()):
                yield Document(block.strip(), metadata={"source": self.path, "page": n})
''')

FAQ = ("Q: How long is the warranty?\nA: The Aurora X2 has a three-year warranty.\n\n"
       "Q: Does it keep logging in a power cut?\nA: Yes, the battery keeps logging for 48 "
       "hours.\n\nQ: Which regions ship for free?\nA: Shipping is free within the EU.\n")


@pytest.fixture
def faq_loader(tmp_path, monkeypatch):
    (tmp_path / "faq_loaders.py").write_text(LOADER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    faq = tmp_path / "faq.txt"
    faq.write_text(FAQ)
    return "faq_loaders.FaqLoader", faq


@pytest.mark.slow
def test_loader_documents_into_an_index_and_back_out_through_a_retriever(faq_loader,
                                                                         embedder) -> None:
    from sapient.plugins.retrieval import DocumentIndex

    loader, faq = faq_loader
    docs = load_documents(loader, [faq])
    assert len(docs) == 3
    index = DocumentIndex(embedder)
    summary = ingest_langchain_documents(index, docs)
    assert summary.added == 3
    assert ingest_langchain_documents(index, docs).changed is False  # same documents: no-op
    retriever = as_retriever(index, k=2)
    found = retriever.invoke("How many hours does it log without power?")
    assert "48 hours" in found[0].page_content
    assert found[0].id == found[0].metadata["id"] and found[0].metadata["rank"] == 1
    assert found[0].metadata["source"] == str(faq)
    strict = as_retriever(index, k=3, min_score=0.99)
    assert strict.invoke("What is the capital of Peru?") == []


@pytest.mark.slow
def test_sapient_ingest_with_a_langchain_loader(faq_loader, tmp_path, capsys) -> None:
    from sapient.core.cli import main
    from sapient.plugins.retrieval import DocumentIndex

    loader, faq = faq_loader
    home = tmp_path / "home"
    assert main(["--home", str(home), "ingest", "--loader", loader, str(faq), "--index",
                 "faq"]) == 0
    index = DocumentIndex.open(home / "indexes" / "faq")
    assert len(index) == 3
    hits = index.search("free shipping regions", k=1)
    assert "EU" in hits[0].text
    before = sorted((home / "indexes" / "faq").rglob("*"))
    code = main(["--home", str(home), "ingest", "--loader", "no_such_pkg.Loader", str(faq),
                 "--index", "faq"])
    out = capsys.readouterr()
    assert code == 1 and "Cannot import the loader module 'no_such_pkg'" in out.out + out.err
    assert "Traceback" not in out.out + out.err
    assert sorted((home / "indexes" / "faq").rglob("*")) == before  # nothing changed


@pytest.mark.slow
def test_sapient_ingest_with_langchain_community_csv_loader(tmp_path) -> None:
    pytest.importorskip("langchain_community")
    from sapient.core.cli import main
    from sapient.plugins.retrieval import DocumentIndex

    csv = tmp_path / "plants.csv"
    csv.write_text("plant,water\nbasil,daily\ncactus,monthly\nfern,twice a week\n")
    home = tmp_path / "home"
    assert main(["--home", str(home), "ingest", "--loader",
                 "langchain_community.document_loaders.CSVLoader", str(csv),
                 "--index", "plants"]) == 0
    index = DocumentIndex.open(home / "indexes" / "plants")
    assert any("cactus" in c.text and "monthly" in c.text for c in index.chunks())
    assert json.dumps([c.metadata.get("source") for c in index.chunks()]).count("plants.csv")
