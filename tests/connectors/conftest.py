"""Fixtures of the connector tests: the fault-injecting server (``fault_server.py``)."""

from __future__ import annotations

import time

import pytest
from fault_server import LIFETIME, FaultServer


@pytest.fixture
def fault_server():
    server = FaultServer().start()
    started = time.monotonic()
    yield server
    server.close()
    assert time.monotonic() - started < LIFETIME
