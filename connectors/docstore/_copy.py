"""Copy every chunk and vector of one document store into another (migration)."""

from __future__ import annotations

from typing import Any

from ._errors import EmbedderMismatchError

__all__ = ["copy_store"]


def copy_store(source: Any, target: Any, *, batch_size: int = 1000,
               show_progress: bool = False) -> int:
    """Copy ``source`` into ``target``: same ids, texts, metadata and vectors.

    Nothing is re-embedded, so the copy answers queries with the same model. Chunks
    already in ``target`` with the same id are replaced (a copy can be re-run after
    an interruption). ``target`` must be empty or built with the same embedder.
    Returns the number of chunks copied; ``target`` is flushed at the end.
    """
    facts = source.info()
    theirs = target.info().get("embedder")
    if theirs and facts.get("embedder") and theirs != facts["embedder"]:
        raise EmbedderMismatchError(
            f"The target store {target.spec} was built with embedder '{theirs}', the source "
            f"with '{facts['embedder']}'; copy into an empty store instead.")
    target.set_info(**facts)
    total = source.count()
    bar = None
    if show_progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="copying", unit="chunk")
    copied = 0
    try:
        for chunks, vectors in source.scan(batch_size):
            target.upsert(chunks, vectors)
            copied += len(chunks)
            if bar is not None:
                bar.update(len(chunks))
    finally:
        if bar is not None:
            bar.close()
    target.flush()
    return copied
