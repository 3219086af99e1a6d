"""The SigLLM-style PROMPTER and DETECTOR on the LLM protocol, driven by ScriptedLLM."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.anomaly import LLMDetector, LLMPrompter, detect
from sapient.plugins.anomaly.llm_methods import parse_integers, to_digits


def _digits(messages) -> list[int]:
    text = messages[-1].content
    line = max(text.splitlines(), key=lambda s: s.count(","))
    return [int(v) for v in re.findall(r"\d+", line)]


def _careful_prompter(messages, tools, options):
    """Answers like a good model: positions far from the window's median."""
    values = np.array(_digits(messages))
    far = np.flatnonzero(np.abs(values - np.median(values)) > 30)
    return json.dumps({"indices": far.tolist()})


def _seasonal_forecaster(period):
    """Forecasts like a decent model: what happened one period earlier."""

    def answer(messages, tools, options):
        values = _digits(messages)
        horizon = int(re.search(r"next (\d+) values", messages[-1].content).group(1))
        return json.dumps({"values": values[-period:][:horizon]})

    return answer


def test_digits_and_parsing():
    assert to_digits(np.array([0.0, 5.0, 10.0]), 11).tolist() == [0, 5, 10]
    assert to_digits(np.array([3.0, 3.0])).tolist() == [0, 0]
    assert parse_integers('{"indices": [3, 17, 42]}', "indices") == [3, 17, 42]
    assert parse_integers('```json\n{"indices": [4, "5", true]}\n```', "indices") == [4, 5]
    assert parse_integers("The anomalies are at 12 and 40.", "indices") == [12, 40]
    assert parse_integers('{"values": []}', "values") == []
    assert parse_integers(None, "indices") == []


def test_prompter_finds_a_spike_and_constrains_the_answer(synth):
    x = synth.spike(at=700, height=8.0, n=1000)
    llm = ScriptedLLM(function=_careful_prompter)
    prompter = LLMPrompter(llm, window=100, step=50, max_points=1000)
    report = prompter.detect(x)
    assert report.method == "llm-prompter"
    assert any(i.start <= 700 <= i.end for i in report.intervals), report.summary
    options = llm.calls[0].options
    assert options["output_schema"]["properties"]["indices"]["items"]["type"] == "integer"
    assert options["temperature"] == 0.0
    assert len(llm.calls) == prompter.stats.calls == 19  # windows 0, 50, ... 900
    assert "19 model call(s); 0 answer(s) unusable" in report.summary


def test_prompter_parses_plain_text_answers(synth):
    x = synth.spike(at=150, height=8.0, n=200)

    def chatty(messages, tools, options):
        values = np.array(_digits(messages))
        far = np.flatnonzero(np.abs(values - np.median(values)) > 30)
        return "Looking at the data, the odd ones are at positions " + ", ".join(map(str, far))

    llm = ScriptedLLM(function=chatty)
    report = LLMPrompter(llm, window=100, step=50, constrain=False).detect(x)
    assert "output_schema" not in llm.calls[0].options
    assert any(i.start <= 150 <= i.end for i in report.intervals), report.summary


def test_bad_answers_and_failures_never_crash(synth):
    x = synth.spike(at=150, height=8.0, n=300)
    replies = iter(["I am not sure.", "{not json", "", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "
                    + ", ".join(map(str, range(11, 60))) + "]"] * 10)

    def flaky(messages, tools, options):
        reply = next(replies)
        if reply == "":
            raise RuntimeError("backend went away")
        return reply

    prompter = LLMPrompter(ScriptedLLM(function=flaky), window=100, step=50)
    report = prompter.detect(x)
    assert report.intervals == []
    assert prompter.stats.unusable >= 2
    assert any("backend went away" in e for e in prompter.stats.errors)


def test_detector_finds_a_level_shift(synth):
    x = synth.level_shift(at=800, delta=6.0, n=1200)
    llm = ScriptedLLM(function=_seasonal_forecaster(32))  # period 96 / bins of 3
    detector = LLMDetector(llm, window=60, horizon=10, max_points=400)
    report = detector.detect(x)
    assert any(i.start <= 800 + 6 and i.end >= 800 - 6 for i in report.intervals), report.summary
    schema = llm.calls[0].options["output_schema"]["properties"]["values"]
    assert schema["minItems"] == schema["maxItems"] == 10
    assert "averaged in bins of 3 points" in report.summary
    assert detector.stats.calls == len(llm.calls) == 34  # (400 - 60) / 10


def test_detector_pads_short_forecasts_and_counts_them(synth):
    x = synth.spike(at=300, height=8.0, n=400)
    llm = ScriptedLLM(function=lambda m, t, o: "5, 6")
    detector = LLMDetector(llm, window=50, horizon=10)
    detector.detect(x)
    assert detector.stats.unusable == detector.stats.calls > 0


def test_short_constant_series_are_not_sent_and_detect_entry_point(synth):
    llm = ScriptedLLM(function=_careful_prompter)
    assert detect([1.0, 2.0, 3.0], method="llm-detector", llm=llm).intervals == []
    assert detect([2.0] * 100, method="llm-prompter", llm=llm).intervals == []
    assert llm.calls == []
    report = detect(synth.spike(at=150, n=300), method="prompter", llm=llm)
    assert report.method == "llm-prompter" and report.intervals
    with pytest.raises(ValueError, match="LLM"):
        LLMPrompter(object())


@pytest.mark.slow
def test_real_local_model_answers_in_the_constrained_shape(gemma_llm, synth):
    """With llama.cpp grammars every answer parses: exactly `horizon` forecasts."""
    x = synth.spike(at=40, n=45, period=12)
    detector = LLMDetector(gemma_llm, window=40, horizon=10)
    report = detector.detect(x)  # window shrinks to a third of the series: forecasts at 15, 25, 35
    assert detector.stats.calls == 3 and detector.stats.unusable == 0, detector.stats.errors
    assert report.method == "llm-detector"
    prompter = LLMPrompter(gemma_llm, window=40, step=40)
    prompter.detect(x[:40])  # one window; the grammar guarantees JSON
    assert prompter.stats.calls == 1 and prompter.stats.errors == []
