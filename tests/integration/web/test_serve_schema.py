"""schemathesis over ``/api/v1/openapi.json`` against the live server with a seeded store.

The real ``schemathesis run`` (its CLI: its pytest plugin does not load on pytest 9) sends
generated requests, valid and not, to every operation with the write token: no answer may be a
5xx, every status code must be one the schema declares, every body must match its schema.
``POST /api/v1/triage`` is left out: each call probes the stack for a whole window (the browser
and e2e tests run it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import Served

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_every_operation_answers_within_its_schema(served: Served, tmp_path: Path) -> None:
    tool = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert tool, "schemathesis is in the test extra"
    cmd = [
        tool,
        "run",
        f"{served.url}/api/v1/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        "10",
        "--exclude-path",
        "/api/v1/triage",
        "-H",
        f"Authorization: Bearer {served.auth['Authorization'][7:]}",
        "-H",
        "X-Perfbook-Actor: schemathesis",
        "--seed",
        "7",
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    (tmp_path / "schemathesis.txt").write_text(proc.stdout)
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    assert proc.returncode == 0, f"schemathesis found failures:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout or "No issues found" in proc.stdout, tail
