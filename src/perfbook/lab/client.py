"""Talk to a running lab's admin endpoint (fault switches) and wait for its traffic to flow.

switch_fault(state, "seqscan", on=True)
wait_for_traffic(state, min_requests=30)
wait_quiet(state)          # after a fault is off: until the requests it held up have finished
"""

from __future__ import annotations

import re
import time

import httpx

from perfbook.errors import PerfbookError
from perfbook.lab.faultstate import FAULTS
from perfbook.lab.state import LabState

SWITCH_TIMEOUT_S = 60.0  # bloat and seqscan off rebuild / vacuum on the server side
_REQUESTS_TOTAL = re.compile(r"^http_requests_total\{([^}]*)\}\s+([0-9.e+]+)", re.MULTILINE)
_DURATION_BUCKET = re.compile(r"^http_request_duration_seconds_bucket\{([^}]*)\}\s+([0-9.e+]+)", re.MULTILINE)


def _headers(state: LabState) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.admin_token}"}


def switch_fault(state: LabState, name: str, on: bool, params: dict | None = None) -> dict:
    """Switch a fault through the admin endpoint; its new entry. PerfbookError on any failure."""
    if name not in FAULTS:
        raise PerfbookError(f"unknown fault {name!r}", hint=f"known faults: {', '.join(FAULTS)}")
    url = f"{state.backend_url}/admin/faults/{name}"
    try:
        response = httpx.post(
            url, json={"on": on, "params": params or {}}, headers=_headers(state), timeout=SWITCH_TIMEOUT_S
        )
    except httpx.HTTPError as err:
        raise PerfbookError(
            f"lab admin endpoint not reachable at {state.backend_url}: {err}",
            hint="is the lab up? see: perfbook lab status",
        ) from None
    if response.status_code != 200:
        detail = (
            response.json().get("detail")
            if "json" in response.headers.get("content-type", "")
            else response.text
        )
        raise PerfbookError(
            f"fault {name} {'on' if on else 'off'} failed: HTTP {response.status_code}: {detail}"
        )
    return response.json()


def list_faults(state: LabState) -> dict[str, dict]:
    """Every fault's entry as the backend sees it."""
    try:
        response = httpx.get(f"{state.backend_url}/admin/faults", headers=_headers(state), timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise PerfbookError(f"lab admin endpoint not reachable at {state.backend_url}: {err}") from None
    return response.json()


def _samples(state: LabState, pattern: re.Pattern[str]) -> list[tuple[str, float]]:
    """(labels, value) of each series ``pattern`` matches on the backend's /metrics, its own
    /metrics handler left out."""
    text = httpx.get(f"{state.backend_url}/metrics", timeout=5.0).text
    return [
        (labels, float(value))
        for labels, value in pattern.findall(text)
        if 'handler="/metrics"' not in labels
    ]


def requests_served(state: LabState) -> float:
    """The backend's lifetime request count (both workers), from its /metrics."""
    return sum(value for _, value in _samples(state, _REQUESTS_TOTAL))


def wait_for_traffic(state: LabState, min_requests: int = 30, timeout_s: float = 30.0) -> float:
    """Block until the backend served ``min_requests`` more requests; the count seen."""
    start = requests_served(state)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        served = requests_served(state) - start
        if served >= min_requests:
            return served
        time.sleep(0.25)
    raise PerfbookError(
        f"no traffic reached the lab within {timeout_s:.0f} s", hint="see the lab's logs/gen.log"
    )


def slow_requests_served(state: LabState, slower_than_s: float = 1.0) -> float:
    """How many requests the backend answered in more than ``slower_than_s`` (a bucket bound), ever."""
    buckets = _samples(state, _DURATION_BUCKET)
    total = sum(value for labels, value in buckets if 'le="+Inf"' in labels)
    return total - sum(value for labels, value in buckets if f'le="{slower_than_s}"' in labels)


def wait_quiet(state: LabState, quiet_s: float = 4.0, timeout_s: float = 30.0) -> bool:
    """Block until no request slower than 1 s has finished for ``quiet_s``: after a fault is off,
    the requests it held up still finish for a while, and a triage window would count them.
    False when the lab was not quiet within ``timeout_s`` (the caller's triage then says why)."""
    deadline = time.monotonic() + timeout_s
    last, since = slow_requests_served(state), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = slow_requests_served(state)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False
