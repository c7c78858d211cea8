"""Fixtures for fix tests: a store in tmp (helpers live in fixkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfbook.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'perfbook.db'}")
    yield s
    s.close()
