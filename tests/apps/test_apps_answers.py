"""Answers composed from evidence (models that cannot write them) and the grounding check."""

from __future__ import annotations

import pytest
from sapient import Agent, Citation, ConfigurationError, Host, Settings, ToolCall, ToolOutput, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.answers import ABSTAIN, MARK, SentenceScorer, compose
from sapient.plugins.answers._evidence import Evidence
from sapient.plugins.answers._facts import graph_answer, interval_answer

LEXICAL = SentenceScorer(None)  # coverage alone: no model needed for these

SPECS = Citation("specs.md#2", "The Aurora X2 has six sensors. A built-in 2,000 mAh battery "
                 "keeps the controller logging for 36 hours during a power cut. It weighs 1 kg.")
PRICES = Citation("prices.md#1", "The Aurora X2 costs 249 euros. Shipping is free.")


def _passages(*citations: Citation) -> list[Evidence]:
    return [Evidence("search_documents", {"query": "q"}, "...", list(citations))]


def test_the_sentence_that_answers_is_chosen_and_cited():
    out = compose("How long does the Aurora X2 keep logging during a power cut?",
                  _passages(PRICES, SPECS), LEXICAL, min_score=0.3)
    assert not out.abstained
    assert "36 hours" in out.text and "[specs.md#2]" in out.text
    assert "249 euros" not in out.text and len(out.text.split()) <= 50


def test_a_duration_question_gets_a_sentence_with_a_duration():
    out = compose("How long does the battery last?", _passages(SPECS), LEXICAL, min_score=0.0)
    assert out.text.startswith("A built-in 2,000 mAh battery") and "36 hours" in out.text


def test_nothing_that_answers_well_enough_abstains():
    out = compose("Who is the chief executive of the company?", _passages(PRICES, SPECS),
                  LEXICAL, min_score=0.3)
    assert out.abstained and out.text.startswith(ABSTAIN)
    assert "[" not in out.text  # an abstention cites nothing


def test_graph_answers_state_the_entities_and_the_paths():
    cites = [Citation("graph:a", "Alice Smith -[KNOWS]-> Bob Jones ; Alice Smith -[KNOWS]-> "
                      "Bob Jones", 0.8, {"answer": "Bob Jones", "label": "Person"}),
             Citation("graph:b", "Alice Smith -[KNOWS]-> Carol White", 0.8,
                      {"answer": "Carol White", "label": "Person"}),
             Citation("graph:c", "Alice Smith -[WORKS_AT]-> Acme Corp", 0.6,
                      {"answer": "Acme Corp", "label": "Company"})]
    text = graph_answer(cites)
    assert text.startswith("Alice Smith knows Bob Jones and Carol White.")
    assert "Alice Smith -[KNOWS]-> Carol White" in text and "Acme" not in text


def test_anomaly_answers_state_interval_size_and_severity():
    cite = Citation("latency.csv#2043-2051", "2026-11-22T02:15:00 to 2026-11-22T02:55:00 "
                    "(points 2043-2051): values up to 944.5 against a typical 128.3; high "
                    "severity (score 20.1), by ensemble", 20.1,
                    {"start": 2043, "end": 2051, "start_time": "2026-11-22T02:15:00",
                     "end_time": "2026-11-22T02:55:00", "severity": "high"})
    text = interval_answer([cite])
    assert "from 02:15 to 02:55" in text and "944.5 against a typical 128.3" in text
    assert "high severity [latency.csv#2043-2051]" in text


@tool
def order_status(order_id: int) -> str:
    """Look up the shipping status of an order.

    Args:
        order_id: the numeric order id printed on the receipt.
    """
    return {42: "shipped on 2026-11-20"}.get(order_id, "unknown order")


def _base_model(*replies) -> ScriptedLLM:
    llm = ScriptedLLM(list(replies))
    llm.writes_answers = False
    return llm


@pytest.fixture
def host():
    return Host(Settings(), load_entrypoints=False)


def test_a_base_model_looks_up_then_the_answer_is_composed(host):
    llm = _base_model(ToolCall("order_status", {"order_id": 42}))
    result = Agent(llm, tools=[order_status], host=host).run("Where is order 42?")
    assert result.ok and "shipped on 2026-11-20" in result.answer
    assert "[order_status]" in result.answer
    [call] = llm.calls  # the model was asked once: for the tool call, not the answer
    assert call.options["tool_choice"] == "required" and call.options["max_tokens"] <= 64


def test_a_one_text_tool_gets_the_question_as_asked(host):
    seen = []

    @tool
    def search(query: str) -> ToolOutput:
        """Search the documents."""
        seen.append(query)
        return ToolOutput("passages", citations=[SPECS])

    # two tools: the model chooses (and rewrites the question, as small base models do)
    llm = _base_model(ToolCall("search", {"query": "What is the weather in Paris?"}))
    events = list(Agent(llm, tools=[search, order_status], host=host).stream(
        "How long does the Aurora X2 keep logging during a power cut?"))
    assert seen == ["How long does the Aurora X2 keep logging during a power cut?"]
    streamed = "".join(e.text for e in events if e.kind == "TextDelta")
    assert "36 hours" in streamed and "[specs.md#2]" in streamed
    assert events[-1].text == streamed


def test_with_nothing_to_choose_the_model_is_not_asked(host):
    @tool
    def search(query: str) -> ToolOutput:
        """Search the documents."""
        return ToolOutput("passages", citations=[PRICES])

    llm = _base_model()
    answer = Agent(llm, tools=[search], host=host).run("What does the Aurora X2 cost?").answer
    assert "249 euros" in answer and llm.calls == []


def test_a_base_model_without_tools_is_told_what_to_do(host):
    with pytest.raises(ConfigurationError, match="does not write answers"):
        Agent(_base_model("x"), host=host).run("hi")


def test_each_turn_of_a_chat_answers_its_own_question(host):
    def llm_fn(messages, tools, options):
        return ToolCall("order_status", {"order_id": 42 if "42" in messages[-1].content else 7})

    llm = ScriptedLLM(function=llm_fn)
    llm.writes_answers = False
    chat = Agent(llm, tools=[order_status], host=host).chat()
    assert "shipped on 2026-11-20" in chat.send("Where is order 42?").answer
    second = chat.send("And order 7?").answer
    assert "unknown order" in second and "order_id=7" in second
    assert sum(m.role == "user" for m in chat.history) == 2


def test_a_capable_models_unsupported_sentences_are_marked(host):
    @tool
    def search(query: str) -> ToolOutput:
        """Search the documents."""
        return ToolOutput("passages", citations=[SPECS])

    llm = ScriptedLLM([ToolCall("search", {"query": "battery"}),
                       "The battery keeps the controller logging for 36 hours during a power "
                       "cut [specs.md#2]. The controller was designed by NASA engineers in "
                       "Houston."])
    answer = Agent(llm, tools=[search], host=host).run("How long does the battery last?").answer
    assert "power cut [specs.md#2]." in answer and MARK not in answer.split("Houston")[0]
    assert answer.endswith(f"Houston. {MARK}")


def test_a_graph_path_from_an_entity_the_question_does_not_name_is_no_answer():
    cite = Citation("graph:p", "Paris <-[LOCATED_IN]- Globex", 0.5,
                    {"answer": "Globex", "label": "Company"})
    evidence = [Evidence("graph_retrieve", {"question": "q"}, "...", [cite])]
    out = compose("What is the capital of France?", evidence, LEXICAL)
    assert out.abstained and "no entity this question names" in out.text


def test_after_a_failed_call_a_base_model_looks_up_with_another_tool(host):
    from sapient import ModelRetry

    @tool
    def broken(path: str, column: str) -> str:
        """Read a file."""
        raise ModelRetry("No file there.")

    llm = _base_model(ToolCall("broken", {"path": "x", "column": "y"}),
                      ToolCall("order_status", {"order_id": 42}))
    result = Agent(llm, tools=[broken, order_status], host=host).run("Where is order 42?")
    assert "shipped on 2026-11-20" in result.answer
    assert [c.tools for c in llm.calls] == [["broken", "order_status"], ["order_status"]]


def test_a_base_model_choosing_a_one_text_tool_is_not_asked_for_its_text(host):
    seen, shown = [], []

    @tool
    def search(query: str) -> ToolOutput:
        """Search the documents."""
        seen.append(query)
        return ToolOutput("passages", citations=[SPECS])

    def choose(messages, tools, options):
        shown.extend((t.name, t.parameters) for t in tools)
        return ToolCall("search", {})  # it only chooses: there is nothing to write

    llm = ScriptedLLM(function=choose, writes_answers=False)
    answer = Agent(llm, tools=[search, order_status], host=host).run(
        "How long does the Aurora X2 keep logging during a power cut?").answer
    params = dict(shown)
    assert params["search"]["properties"] == {}  # the question will be its argument
    assert params["order_status"] == order_status.parameters  # the model writes this one
    assert seen == ["How long does the Aurora X2 keep logging during a power cut?"]
    assert "36 hours" in answer and "[specs.md#2]" in answer


class _Similarity:
    """An embedder whose cosine with the question is set per sentence (question first)."""

    def __init__(self, cosines: dict[str, float]) -> None:
        self.cosines = cosines

    def embed(self, texts):
        import numpy as np

        rows = []
        for t in texts:
            c = self.cosines.get(t, 1.0)  # the question itself: the unit vector e0
            rows.append([c, (1 - c * c) ** 0.5])
        return np.asarray(rows, dtype=np.float32)


def test_whether_to_answer_weighs_similarity_over_copied_words():
    question = "When did the Normans conquer England?"
    copied = "The Normans did not conquer England in 1200 with the Danes."  # words, other topic
    evidence = _passages(Citation("p#1", copied))
    far, near = _Similarity({copied: 0.2}), _Similarity({copied: 0.8})  # both kept alive
    low = compose(question, evidence, SentenceScorer(far))
    assert low.abstained  # coverage 1.0 alone would have scored (0.2 + 1.0) / 2 = 0.6
    high = compose(question, evidence, SentenceScorer(near))
    assert not high.abstained and "[p#1]" in high.text
    assert high.score == pytest.approx((0.8 + (0.8 + 1.0) / 2) / 2, abs=1e-3)


def test_the_same_sentence_in_two_passages_is_said_once():
    copy = Citation("copy/specs.md#2", SPECS.text)
    out = compose("How long does the Aurora X2 keep logging during a power cut?",
                  _passages(SPECS, copy), LEXICAL, min_score=0.3)
    assert out.text.count("36 hours") == 1


@pytest.mark.parametrize("question, missing", [
    ("How long does the Aurora X3 keep logging during a power cut?", "'X3'"),
    ("How long did the Aurora X2 keep logging in 2019?", "the number 2019"),
    ("How long does the Aurora X2 not keep logging during a power cut?", "the negation"),
])
def test_a_name_number_or_negation_the_evidence_does_not_state_is_no_answer(question, missing):
    # Questions written to look answerable change exactly these; the best sentence then
    # answers another question, however close its words.
    out = compose(question, _passages(PRICES, SPECS), LEXICAL, min_score=0.0)
    assert out.abstained and out.unstated == missing
    assert out.text == f"{ABSTAIN}: the passage that matches best does not state {missing} " \
                       "of the question."


def test_what_the_question_states_may_be_in_the_passage_or_its_title():
    # the name is in the passage's title, not in the sentence; plural meets singular;
    # a negated sentence can answer a negated question
    section = Citation("specs.md#3", "A built-in battery keeps logging for 36 hours. The "
                       "battery is not replaceable by users.", None,
                       {"title": "Aurora X2 specifications", "section": "Power"})
    for question in ("How long does the Aurora X2 keep logging?",
                     "Which part of the Aurora X2 is not replaceable by users?",
                     "How long do Aurora X2 batteries keep logging?"):
        out = compose(question, _passages(section), LEXICAL, min_score=0.0)
        assert not out.abstained and out.unstated is None, (question, out.text)


def test_first_words_and_function_words_are_not_names():
    from sapient.plugins.answers._text import unstated

    passage = "The controller logs for 36 hours."
    assert unstated("How long does it log? Is that enough?", passage, passage) is None
    assert unstated("What should I expect, and How long?", passage, passage) is None
    assert unstated("How long does Zorbax log?", passage, passage) == "'Zorbax'"


def test_wrapped_lines_are_one_sentence_and_headings_are_not_answers():
    from sapient.plugins.answers._text import split_sentences

    text = ("# Lumora Labs: company overview\n\nThe company was founded in 2016 by Kadri Saar\n"
            "(chief executive) and Mihkel Oja. It employs\nabout 140 people.\n\n## Products\n"
            "- Aurora X2: the controller.\n- Aurora Mini: a small one.\nPrice: 349 euros\n"
            "Weight: 1 kg")
    assert split_sentences(text, headings=False) == [
        "The company was founded in 2016 by Kadri Saar (chief executive) and Mihkel Oja.",
        "It employs about 140 people.", "Aurora X2: the controller.",
        "Aurora Mini: a small one.", "Price: 349 euros", "Weight: 1 kg"]
    assert split_sentences(text)[0] == "Lumora Labs: company overview"


def test_a_sentence_is_read_under_its_heading():
    # "the company" is Lumora Labs only by its section; the address names it outright
    founded = Citation("overview.md#0", "# Lumora Labs: company overview\n\nLumora Labs "
                       "builds controllers.\nThe company was founded in 2016 by Kadri Saar\n"
                       "and Mihkel Oja.", None, {"section": "Lumora Labs: company overview"})
    address = Citation("overview.md#3", "## Headquarters\nLumora Labs AS, Riia 181, Tartu.",
                       None, {"section": "Lumora Labs: company overview > Headquarters"})
    out = compose("Who founded Lumora Labs?", _passages(address, founded), LEXICAL,
                  min_score=0.0)
    assert out.ranked[0][:2] == ("The company was founded in 2016 by Kadri Saar and Mihkel "
                                 "Oja.", "overview.md#0"), out.text
    assert "The company was founded in 2016 by Kadri Saar and Mihkel Oja. [overview.md#0]" \
        in out.text
