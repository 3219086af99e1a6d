"""The detect_anomalies tool through an agent, the CLI command, the plot, the plugin."""

from __future__ import annotations

import argparse
import json

import pytest
from sapient import Agent, Host, Settings
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.hookspecs import hookimpl
from sapient.plugins.anomaly import AnomalyToolkit, detect, plot_report
from sapient.plugins.anomaly import cli as anomaly_cli
from sapient.plugins.anomaly.tool import make_detect_tool

#: The tool as a toolkit without a host builds it: its LLM methods answer with a hint.
detect_anomalies = AnomalyToolkit().tools()[0]


def _answer_from_tool(call_args):
    """A scripted model: calls the tool once, then quotes its summary."""

    def reply(messages, tools, options):
        last = messages[-1]
        if last.role == "tool":
            return "Tool said: " + (json.loads(last.content)["summary"]
                                    if last.content.startswith("{") else last.content)
        return {"tool": "detect_anomalies", "args": call_args}

    return reply


@pytest.fixture
def host(tmp_path):
    return Host(Settings(home=tmp_path / "home"), load_entrypoints=False)


def test_plugin_registers_tool_and_command(host):
    assert "detect_anomalies" in host.tools()
    assert host.tools()["detect_anomalies"].source == "sapient.plugins.anomaly"
    assert "anomalies" in host.registry("commands")
    assert not [e for e in host.load_errors if "anomaly" in e.plugin]
    params = host.tools()["detect_anomalies"].parameters["properties"]
    assert {"csv_path", "column", "values", "method", "sensitivity"} <= set(params)
    assert "auto" in params["method"]["enum"]


def test_agent_answers_with_intervals_and_citations(host, incident_csv):
    llm = ScriptedLLM(function=_answer_from_tool(
        {"csv_path": str(incident_csv), "column": "latency_ms"}))
    agent = Agent(llm, tools=["detect_anomalies"], host=host)
    result = agent.run("Did anything unusual happen to checkout latency last night?")
    assert result.error is None, result.error
    assert "Found 1 anomaly" in result.answer
    record = result.tool_calls[0]
    report = record.data
    top = report.intervals[0]
    assert top.start <= 900 <= top.end and top.end <= 930
    assert top.start_time.startswith("2026-01-14")
    assert result.citations and result.citations[0].source_id.startswith(str(incident_csv))
    assert result.citations[0].metadata["severity"] == top.severity


def test_inline_values_and_model_mistakes_get_retry_messages(host, synth):
    x = synth.spike(at=300, n=500).round(3).tolist()
    out = detect_anomalies.invoke(detect_anomalies.validate({"csv_path": None, "values": x,
                                                             "column": "cpu"}))
    assert out.content["series"] == "cpu" and out.content["anomalies"][0]["start"] <= 300
    llm = ScriptedLLM([
        {"tool": "detect_anomalies", "args": {"csv_path": "/nope.csv", "column": "x"}},
        {"tool": "detect_anomalies", "args": {}},
        {"tool": "detect_anomalies", "args": {"csv_path": None}},
        {"tool": "detect_anomalies", "args": {"csv_path": None, "values": [1, 2, 3],
                                              "sensitivity": 3}},
        {"tool": "detect_anomalies", "args": {"csv_path": None, "values": [1, 2, 3],
                                              "method": "llm-prompter"}},
        "done",
    ])
    result = Agent(llm, tools=[detect_anomalies]).run("check")
    errors = [r.error for r in result.tool_calls]
    assert "No file" in errors[0]
    assert "'csv_path' is required" in errors[1]  # the schema makes the model name a source
    assert "Give the series" in errors[2]
    assert "between 0 and 1" in errors[3]
    assert "needs a configured LLM" in errors[4]
    assert result.answer == "done"


def test_a_file_wins_over_made_up_inline_values(incident_csv):
    out = detect_anomalies.invoke(detect_anomalies.validate({
        "csv_path": str(incident_csv), "column": "latency_ms", "values": [1, 2, 3]}))
    assert out.content["points"] == 1200
    assert "Inline values were ignored" in " ".join(out.content["notes"])


def test_tool_with_llm_method_uses_the_factory(synth):
    answers = ScriptedLLM(function=lambda m, t, o: '{"indices": []}')
    tool = make_detect_tool(lambda: answers)
    out = tool.invoke(tool.validate({"csv_path": None, "values": synth.base(n=300).tolist(),
                                     "method": "llm-prompter"}))
    assert out.content["method"] == "llm-prompter" and answers.calls


def test_tool_llm_methods_run_on_the_hosts_model(synth, tmp_path):
    """The model inside the tool is the host's: its plugins and settings reach it."""
    answers = ScriptedLLM(function=lambda m, t, o: '{"indices": []}')

    class FakeModels:
        @hookimpl
        def register_llms(self, register):
            register("fake", lambda rest, settings: answers)

    host = Host(Settings(home=tmp_path, llm="fake:x"), plugins=[FakeModels()],
                load_entrypoints=False)
    tool = host.tools()["detect_anomalies"]
    out = tool.invoke(tool.validate({"csv_path": None, "values": synth.base(n=300).tolist(),
                                     "method": "llm-prompter"}))
    assert out.content["method"] == "llm-prompter" and answers.calls


def test_plot_writes_a_png(tmp_path, incident_csv):
    report = detect(incident_csv, column="latency_ms")
    path = plot_report(incident_csv, report, tmp_path / "out" / "chart", column="latency_ms")
    assert path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = detect_anomalies.invoke(detect_anomalies.validate({
        "csv_path": str(incident_csv), "column": "latency_ms",
        "plot_path": str(tmp_path / "tool.png")}))
    assert (tmp_path / "tool.png").stat().st_size > 1000 and out.content["plot"]


def _args(**kw):
    parser = argparse.ArgumentParser()
    anomaly_cli.configure(parser)
    argv = [kw.pop("file")] + [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    return parser.parse_args(argv)


def test_cli_prints_intervals(host, incident_csv, capsys):
    code = anomaly_cli.run(_args(file=str(incident_csv), column="latency_ms"), host)
    out = capsys.readouterr().out
    assert code == 0
    assert "latency_ms: 1200 points" in out
    assert "2026-01-14" in out and "severity" in out


def test_sapient_command_line_runs_the_command(incident_csv, tmp_path, capsys, monkeypatch):
    from sapient.core.cli import main

    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert main(["anomalies", str(incident_csv), "--column", "latency_ms"]) == 0
    assert "latency_ms: 1200 points" in capsys.readouterr().out
    assert main(["anomalies", str(incident_csv)]) == 2
    assert "--column" in capsys.readouterr().err


def test_cli_json_and_errors(host, incident_csv, tmp_path, capsys):
    args = _args(file=str(incident_csv), column="latency_ms")
    args.json = True
    assert anomaly_cli.run(args, host) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["anomalies"][0]["severity"] in ("low", "medium", "high")
    assert anomaly_cli.run(_args(file=str(incident_csv)), host) == 2  # two numeric columns
    assert "column=" in capsys.readouterr().err
    assert anomaly_cli.run(_args(file=str(tmp_path / "none.csv")), host) == 2
    assert anomaly_cli.run(_args(file=str(incident_csv), column="latency_ms",
                                 method="llm-detector"), host) == 2
    assert "No LLM is configured" in capsys.readouterr().err
