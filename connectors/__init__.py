"""Adapters to the outside: LLMs, embedders, graph stores. Optional SDKs are imported
inside each adapter, on first use, with an install hint when missing."""
