"""``"module:Name"`` → the object: the one loader of perfbook's explicit registries.

The probes (:data:`perfbook.probes.BUILTIN`) and the fixes (:data:`perfbook.fix.catalog.CATALOG`)
are listed as ``"module:Class"`` strings, so listing them imports nothing; a class is imported
when it is used.

    >>> import_object("perfbook.model:Level").CRITICAL.value
    'critical'
"""

from __future__ import annotations

import importlib
from typing import Any


def import_object(spec: str) -> Any:
    """The object ``spec`` (``"package.module:Name"``) names; ValueError for a spec without ``:``."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"not a 'module:Name' spec: {spec!r}")
    return getattr(importlib.import_module(module_name), name)
