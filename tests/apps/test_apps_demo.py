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
