"""Every test starts from a clean environment: no ``SAPIENT_*`` setting of the machine
and no developer's ``~/.sapient`` leaks into it.

An autouse fixture removes every ``SAPIENT_*`` variable (except the opt-ins that point
a test at an outside service, such as ``SAPIENT_NEO4J_URI``), removes the OpenAI
variables a developer may have set, and points ``SAPIENT_HOME`` at a fresh folder of
the test's own. A test that needs a setting sets it with ``monkeypatch``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Variables that opt a run into tests against an outside service; they select
#: tests, they do not change what Sapient does, so they stay.
KEEP = ("SAPIENT_NEO4J_",)

#: Variables outside the ``SAPIENT_`` prefix that change what Sapient does.
DROP = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


@pytest.fixture(autouse=True)
def sapient_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                ) -> Path:
    """A clean environment and an empty ``SAPIENT_HOME`` for each test (returned)."""
    for name in list(os.environ):
        if (name.startswith("SAPIENT_") and not name.startswith(KEEP)) or name in DROP:
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("sapient-home")
    monkeypatch.setenv("SAPIENT_HOME", str(home))
    return home
