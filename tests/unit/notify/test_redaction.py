"""Secrets of the notification channels never shown: apprise tokens in `config show`, the SMTP password env."""

from __future__ import annotations

import pytest

from perfbook.config import effective_items, load_config
from perfbook.redact import redact_notify_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://***"),
        ("msteams://abc@def/ghi/jkl", "msteams://***"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***"),
        ("json://hooks.example.com:8443/perfbook?token=s3cret", "json://hooks.example.com:8443/***"),
        ("jsons://user:pw@hooks.example.com/x", "jsons://hooks.example.com/***"),
        ("mailtos://notify:pw@mail.example.com?to=customers@example.com", "mailtos://mail.example.com/***"),
        ("not a url", "***"),
    ],
)
def test_notify_urls_are_redacted(url: str, shown: str) -> None:
    assert redact_notify_url(url) == shown


def test_config_show_never_prints_a_notify_token() -> None:
    env = {
        "PERFBOOK_NOTIFY_URLS": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl,json://u:pw@hooks.example.com/x?token=t0k"
    }
    cfg = load_config(None, env=env)
    rows = {key: value for key, value, _ in effective_items(cfg)}
    assert rows["notify.urls"] == ["slack://***", "json://hooks.example.com/***"]
    everything = repr(rows)
    for secret in ("T1JJ3T3L2", "TIiajkdnl", "pw@", "t0k"):
        assert secret not in everything
    assert rows["notify.email"]["from"] == "perfbook@localhost"  # shown by its TOML name
