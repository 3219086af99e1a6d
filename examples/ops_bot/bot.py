"""An operations bot: checks a metric with the anomaly tool and saves the plot.

    python examples/ops_bot/bot.py                      # chat about the sample latency metric
    python examples/ops_bot/bot.py --csv metrics.csv    # ... or any CSV with a time column
    python examples/ops_bot/bot.py --llm openai:gpt-4o-mini --question "Was checkout slow?"

The agent has one tool, ``check_metric``: the model names a metric (a column of the
CSV) and how sensitive to be; the tool runs the registered ``detect_anomalies`` tool
(an ensemble of robust detectors) on it, writes a PNG chart with the anomalous
periods shaded, and returns the findings with the chart's path.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import converse, home_dir, parser, plugins_for  # noqa: E402
from sapient import Agent, Host, ModelRetry, Settings, Tool  # noqa: E402

SAMPLE = (Path(__file__).resolve().parents[2] / "plugins" / "demo" / "data" / "series"
          / "checkout_latency.csv")
SYSTEM = ("You are an on-call assistant. To answer any question about a metric, call "
          "check_metric, then say whether anything unusual happened, when, how severe it "
          "was compared with normal, and give the path of the saved chart.")


def metric_columns(path: Path) -> list[str]:
    """The numeric columns of a CSV (every column but the first, the time)."""
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    return header[1:]


def make_check_metric(host: Host, series: Path, plots: Path) -> Tool:
    """A tool whose only free arguments are ones a model can fill: a metric name (from an
    enum) and a sensitivity. It runs the host's ``detect_anomalies`` tool."""
    detect = host.tools()["detect_anomalies"]
    columns = metric_columns(series)

    def check_metric(metric: str, sensitivity: float = 0.5) -> Any:
        if metric not in columns:
            raise ModelRetry(f"Unknown metric {metric!r}; choose one of {', '.join(columns)}.")
        plot = plots / f"{series.stem}-{metric}.png"
        args = detect.validate({"csv_path": str(series), "column": metric,
                                "sensitivity": sensitivity, "plot_path": str(plot)})
        return detect.invoke(args)

    return Tool.from_json_schema(
        "check_metric",
        "Check a metric for unusual periods (spikes, drops, level shifts) and save a chart.",
        {"type": "object", "required": ["metric"], "properties": {
            "metric": {"type": "string", "enum": columns, "description": "the metric to check"},
            "sensitivity": {"type": "number", "minimum": 0, "maximum": 1,
                            "description": "0 reports only glaring anomalies, 1 anything odd"}}},
        check_metric)


def build(argv: list[str] | None = None, llm: Any = None) -> tuple[Agent, Any]:
    args = parser("Ask whether anything unusual happened to a metric; saves a chart.")
    args.add_argument("--csv", default=str(SAMPLE),
                      help="CSV with a time column first, then metric columns")
    opts = args.parse_args(argv)
    home = home_dir(opts, "ops_bot")
    settings = Settings.from_env(home=home, llm=opts.llm or "llamacpp:default")
    host = Host(settings)
    series = Path(opts.csv).expanduser().resolve()
    check = make_check_metric(host, series, home / "plots")
    first = metric_columns(series)[0]
    plugins = plugins_for(opts, llm, lambda q: ("check_metric", {"metric": next(
        (c for c in metric_columns(series) if c.split("_")[0] in q.lower()), first)}))
    agent = Agent(llm or host.llm(), tools=[check], host=host, plugins=plugins,
                  system_prompt=SYSTEM + f" Metrics: {', '.join(metric_columns(series))}.",
                  max_steps=4)
    return agent, opts


def charts(result: Any) -> None:
    """Point at the charts the run saved."""
    for rec in result.tool_calls:
        if rec.name == "check_metric" and rec.result:
            try:
                plot = json.loads(rec.result).get("plot")
            except (ValueError, AttributeError):
                continue
            if plot:
                print(f"  chart saved: {plot}")


def main(argv: list[str] | None = None, llm: Any = None) -> int:
    agent, opts = build(argv, llm)
    return converse(agent, opts.question,
                    "Ops bot. Try: Did anything unusual happen to checkout latency? "
                    "(/exit quits)", after=charts)


if __name__ == "__main__":
    sys.exit(main())
