"""Alertmanager's payload read strictly (one line naming the field), and an alert's labels turned into
the triage they ask for."""

from __future__ import annotations

import pytest

from perfbook.config import Config, HttpConfig, PrometheusConfig
from perfbook.fleet.receiver import PayloadError, incident_title, parse_payload
from perfbook.fleet.scope import ELSEWHERE, scope_for

ALERT = {
    "status": "firing",
    "labels": {"alertname": "HighResponseTime", "job": "api"},
    "annotations": {},
    "startsAt": "2026-12-02T01:00:00Z",
    "fingerprint": "f1",
}
GOOD = {
    "version": "4",
    "status": "firing",
    "groupKey": "{}:{}",
    "alerts": [ALERT],
    "commonLabels": ALERT["labels"],
}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": "burning"}, "status must be firing or resolved"),
        ({"groupKey": ""}, "groupKey"),
        ({"alerts": []}, "alerts must be a non-empty list"),
        ({"alerts": [{**ALERT, "fingerprint": 3}]}, "alerts[0].fingerprint"),
        ({"alerts": [{**ALERT, "labels": {"a": 1}}]}, "alerts[0].labels"),
        ({"version": "3"}, "version '3'"),
    ],
)
def test_a_bad_payload_names_the_field(change, words):
    with pytest.raises(PayloadError) as err:
        parse_payload({**GOOD, **change})
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_good_payload_and_its_dedup_key():
    group = parse_payload(GOOD)
    assert group.alertname == "HighResponseTime" and [a.fingerprint for a in group.firing()] == ["f1"]
    assert group.dedup_key.startswith("alertmanager:") and len(group.dedup_key) < 255
    assert parse_payload({**GOOD, "groupKey": "other"}).dedup_key != group.dedup_key


def test_labels_scope_the_triage():
    cfg = Config(
        prometheus=PrometheusConfig(url="http://prom:9090"), http=HttpConfig(base_url="http://10.0.0.5:8001")
    )
    elsewhere = scope_for(cfg, {"job": "api", "instance": "10.0.0.7:8001", "path": "/api/v1/users"})
    assert elsewhere.config.prometheus.selector == 'job="api"' and elsewhere.skip == list(ELSEWHERE)
    assert elsewhere.focus == {"job": "api", "instance": "10.0.0.7:8001", "route": "/api/v1/users"}
    here = scope_for(cfg, {"instance": "10.0.0.5:8001"})
    assert here.skip == [] and here.config.prometheus.selector == ""
    without_prometheus = scope_for(Config(), {"job": "api", "instance": "10.0.0.7:8001"})
    assert without_prometheus.skip == [] and without_prometheus.config.prometheus.selector == ""


@pytest.mark.parametrize("route_label", ["handler", "path", "route", "url_rule"])
def test_an_alert_without_a_summary_is_titled_by_its_route_in_any_label_spelling(route_label):
    labels = {"alertname": "HighResponseTime", "job": "api", route_label: "/api/v1/users"}
    group = parse_payload({**GOOD, "alerts": [{**ALERT, "labels": labels}], "commonLabels": labels})
    assert incident_title(group) == f"HighResponseTime firing (job=api, {route_label}=/api/v1/users)"
