"""Shared fixtures: the real all-MiniLM-L6-v2 model (loaded once) and small corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = REPO / "plugins" / "demo" / "data" / "docs"


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)


@pytest.fixture(scope="session")
def minilm():
    import torch
    from sapient.connectors.embeddings import SentenceTransformerEmbedder

    # Small inputs: one thread is as fast and avoids oversubscribing a busy CI machine.
    torch.set_num_threads(1)
    emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    vec = emb.embed(["warm-up"])
    assert vec.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vec[0]), 1.0, atol=1e-4)
    return emb


@pytest.fixture
def embedder(minilm):
    return CountingEmbedder(minilm)


CORPUS = {
    "fruit": ("Bananas are yellow tropical fruit rich in potassium.", {"topic": "food", "year": 2021}),
    "pasta": ("Carbonara is a Roman pasta dish made with eggs, pecorino and guanciale.",
              {"topic": "food", "year": 2023}),
    "rocket": ("The rocket engine burns liquid oxygen and kerosene to reach orbit.",
               {"topic": "space", "year": 2022}),
    "mars": ("Mars has two small moons called Phobos and Deimos.", {"topic": "space", "year": 2020}),
    "tax": ("Invoices must show the VAT number of the seller and the buyer.",
            {"topic": "finance", "year": 2023}),
    "zx": ("Part ZX-4471 is the replacement hinge for the cabinet door.",
           {"topic": "parts", "year": 2019}),
}


@pytest.fixture
def corpus():
    ids = list(CORPUS)
    return ids, [CORPUS[i][0] for i in ids], [dict(CORPUS[i][1]) for i in ids]


@pytest.fixture(scope="session")
def sample_docs() -> Path:
    assert SAMPLE_DOCS.is_dir(), SAMPLE_DOCS
    return SAMPLE_DOCS
