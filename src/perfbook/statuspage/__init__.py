"""The static status page: ``index.html``, ``status.json`` (Statuspage's vocabulary) and ``status.txt``.

Built from the store: component states from open incidents and their latest triage, the public
updates ``incident notify`` published, and the incidents of the last ``history_days``. Nothing
internal reaches it (the public_text guard checks every file before any is written).

    rebuild_if_configured(store, cfg)       # what every incident change calls
    build.build(store, cfg, Path("site"))   # what `perfbook status build --out site` does
"""

from __future__ import annotations

from typing import Any

from perfbook.config import Config

__all__ = ["rebuild_if_configured"]


def rebuild_if_configured(store: Any, cfg: Config) -> list[str]:
    """Rebuild the page into ``[status] dir`` when it is set; the files written ([] when not set)."""
    if not cfg.status.dir:
        return []
    from pathlib import Path

    from perfbook.statuspage.build import build

    return [str(p) for p in build(store, cfg, Path(cfg.status.dir).expanduser())]
