"""A "Prometheus" that hangs, drips, never ends its answer, answers garbage or 200 MB, or loops on
redirects: the prometheus probe reports it unavailable with the reason, within its budget, with
the bearer token it sent never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import Hostile

from hostile import perfbook

SECRET = "hostile-prom-token-5e3c"


def _cfg(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[http]\nbase_url = ""\n[frontend]\nurl = ""\n'
        f'[prometheus]\nurl = "{url}"\ntimeout_s = 2\ntoken_env = "PROM_TOKEN"\n'
    )
    return path


@pytest.mark.parametrize(
    "mode", ["never", "drip", "chunked_forever", "garbage", "redirect_loop", "many_headers", "big_body"]
)
def test_a_hostile_prometheus_is_unavailable_never_a_crash(attempt, tmp_path, mode):
    with Hostile(mode, mb=200) as srv:
        run = perfbook(
            "triage",
            "--config",
            str(_cfg(tmp_path, srv.url)),
            "--only",
            "prometheus",
            "--json",
            "--fail-on",
            "never",
            env={"PROM_TOKEN": SECRET},
            timeout_s=60,
        )
    probe = run.json["probes"]["prometheus"] if run.code == 0 else {}
    attempt.check(
        run,
        codes={0},
        verify=[
            lambda: None if probe.get("status") == "unavailable" else f"not unavailable: {probe}",
            lambda: (
                None
                if [f["code"] for f in run.json["findings"]] == ["prometheus.unreachable"]
                else f"findings: {[f['code'] for f in run.json['findings']]}"
            ),
            lambda: None if SECRET not in run.stdout + run.stderr else "the token was shown",
            lambda: None if run.took_s < 2 * 2 + 1.5 + 6 else f"took {run.took_s:.1f} s (budget 5.5 s)",
        ],
    )
