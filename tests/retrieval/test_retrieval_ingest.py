"""Ingesting files and folders: formats, stable ids, change detection, sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from sapient.plugins.retrieval import DocumentIndex, RetrievalError


def make_pdf(path: Path, pages: list[str]) -> None:
    """Write a small valid PDF with one line of text per page (no PDF library needed)."""
    objs: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font = 3 + 2 * n
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i}"
                    f" 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "kb"
    d.mkdir()
    (d / "guide.md").write_text(
        "# Guide\n\nIntro to the appliance.\n\n## Cleaning\n\nRinse the filter weekly with "
        "warm water.\n\n## Storage\n\nKeep it dry, below 30 degrees.\n")
    (d / "notes.txt").write_text("The blue button pairs the remote control.\n")
    (d / "page.html").write_text(
        "<html><head><title>Returns</title><script>var secret = 'do not index';</script>"
        "</head><body><h1>Returns</h1><p>Returns are accepted within 45 days.</p></body></html>")
    sub = d / "manuals"
    sub.mkdir()
    make_pdf(sub / "manual.pdf", ["Page one explains the safety rules.",
                                  "Page two lists the spare parts catalogue."])
    (d / ".hidden.md").write_text("# secret\n\nnever indexed")
    (d / "image.png").write_bytes(b"\x89PNG")
    return d


def test_ingest_formats_and_metadata(folder, embedder):
    idx = DocumentIndex(embedder)
    s = idx.ingest(folder)
    assert s.files == 4 and not s.errors
    assert s.added == len(idx) and s.embedded == len(idx)
    assert sorted(idx.documents()) == ["kb/guide.md", "kb/manuals/manual.pdf", "kb/notes.txt",
                                       "kb/page.html"]
    md = idx.chunks("kb/guide.md")
    assert {c.metadata.get("section") for c in md} == {"Guide", "Guide > Cleaning",
                                                        "Guide > Storage"}
    assert all(c.id.startswith("kb/guide.md#") for c in md)
    html = idx.chunks("kb/page.html")[0]
    assert html.metadata["title"] == "Returns" and "secret" not in html.text
    pdf = idx.chunks("kb/manuals/manual.pdf")
    assert [c.metadata["page"] for c in pdf] == [1, 2]
    assert pdf[1].metadata["source"] == str((folder / "manuals" / "manual.pdf").resolve())
    assert idx.search("spare parts list", k=1)[0].id == "kb/manuals/manual.pdf#1"
    hit = idx.search("how often should I wash the filter", k=1, filters={"file_type": "md"})[0]
    assert hit.metadata["section"] == "Guide > Cleaning"


def test_chunk_ids_are_stable_across_runs(folder, embedder):
    a, b = DocumentIndex(embedder), DocumentIndex(embedder)
    a.ingest(folder)
    b.ingest(folder)
    assert [(c.id, c.hash) for c in a.chunks()] == [(c.id, c.hash) for c in b.chunks()]


def test_reingest_skips_updates_and_syncs(folder, embedder):
    idx = DocumentIndex(embedder)
    first = idx.ingest(folder)
    before = embedder.embedded
    again = idx.ingest(folder)
    assert (again.added, again.updated, again.deleted, again.embedded) == (0, 0, 0, 0)
    assert again.skipped == first.added and embedder.embedded == before
    # Change one section of the markdown file: only that chunk is re-embedded.
    guide = folder / "guide.md"
    guide.write_text(guide.read_text().replace("weekly", "every day"))
    s = idx.ingest(folder)
    assert (s.updated, s.embedded, s.added, s.deleted) == (1, 1, 0, 0)
    assert "every day" in idx.search("how often to rinse the filter", k=1)[0].text
    # Remove a file: its chunks go with sync, stay without.
    (folder / "notes.txt").unlink()
    s = idx.ingest(folder, sync=False)
    assert s.deleted == 0 and "kb/notes.txt" in idx.documents()
    s = idx.ingest(folder)
    assert s.deleted == 1 and "kb/notes.txt" not in idx.documents()


def test_ingest_single_file_and_delete_by_source(folder, embedder):
    idx = DocumentIndex(embedder)
    idx.ingest([folder / "notes.txt", folder / "guide.md"])
    assert sorted(idx.documents()) == ["guide.md", "notes.txt"]
    assert idx.delete(source=folder / "notes.txt") == 1
    assert idx.documents() == ["guide.md"]
    # A file already indexed through its folder keeps its id when ingested alone.
    idx.ingest(folder)
    n = len(idx)
    s = idx.ingest(folder / "notes.txt")
    assert s.skipped == 1 and len(idx) == n
    assert "notes.txt" not in idx.documents() and "kb/notes.txt" in idx.documents()


def test_bad_paths_are_explained_and_change_nothing(folder, embedder, tmp_path):
    idx = DocumentIndex(embedder)
    with pytest.raises(RetrievalError, match="No such file"):
        idx.ingest([folder, tmp_path / "missing"])
    with pytest.raises(RetrievalError, match="unsupported file type"):
        idx.ingest(folder / "image.png")
    assert len(idx) == 0
    broken = folder / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    s = idx.ingest(folder)
    assert len(s.errors) == 1 and "broken.pdf" in s.errors[0]
    assert len(idx.documents()) == 4  # the readable files were still ingested
