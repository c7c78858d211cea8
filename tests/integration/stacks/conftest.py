"""Fixtures of the third-party stack tests: each stack started for real, skipped with the reason
where it cannot start here (and failed in CI, where every service must start)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest

from perfbook import services

from .apps import AppUnavailable


def start(stack: AbstractContextManager[str]) -> Iterator[str]:
    """Enter ``stack`` and yield its base URL; skip (locally) or fail (CI) when it cannot start."""
    try:
        url = stack.__enter__()
    except (AppUnavailable, services.ServiceUnavailable) as err:
        if services.require_services():
            pytest.fail(f"required stack could not start: {err}")
        pytest.skip(f"stack not available here: {err}")
    try:
        yield url
    finally:
        stack.__exit__(None, None, None)


def write_config(tmp_path, text: str) -> str:
    """``text`` as ``perfbook.toml`` under ``tmp_path``; its path."""
    path = tmp_path / "perfbook.toml"
    path.write_text(text)
    return str(path)
