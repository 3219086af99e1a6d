"""Where the demo's sample data is, and what to ask about it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "DEFAULT_LLM", "INDEX", "GRAPH", "SERIES", "SAMPLE_QUESTIONS"]

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The model the demo uses when neither ``--llm`` nor ``SAPIENT_LLM`` names one.
DEFAULT_LLM = "llamacpp:default"
#: Names of the demo's index and graph under ``SAPIENT_HOME``.
INDEX = "demo"
GRAPH = "demo"
SERIES = DATA_DIR / "series" / "checkout_latency.csv"

SAMPLE_QUESTIONS = [
    "How long does the Aurora X2 keep logging during a power cut?",
    "Who does Alice Smith know?",
    "Did anything unusual happen to checkout latency?",
]
