"""``--cluster tcp://SCHEDULER:8786``: connect to a Dask scheduler and check its workers before any load.

Everything that can be known before a request is sent is checked here, and each failure is one
:class:`~perfbook.errors.UsageError` (exit 2): a bad or unreachable address, something that is
not a Dask scheduler, no workers (or fewer than ``--workers``), a worker without perfbook or
with another version, a target that is not on a worker's machine (without ``--yes``). Then the
clock of every worker is read against ours (see :func:`~perfbook.load.cluster_plan.clock_offset`).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from perfbook.errors import UsageError
from perfbook.load.cluster_plan import ClockOffset, clock_offset

if TYPE_CHECKING:
    from perfbook.config import Config

CONNECT_TIMEOUT_S = 5.0
GREETING_TIMEOUT_S = 3.0  # a scheduler greets within milliseconds, a busy one within a second
WAIT_FOR_WORKERS_S = 10.0
CLOCK_ROUNDS = 5
SCHEMES = ("tcp", "tls")  # Dask's network transports a team runs; inproc/ucx/ws are left out


@dataclass(frozen=True)
class ClusterWorker:
    """One Dask worker process the run uses: where it is, and its clock against ours."""

    address: str
    name: str
    host: str
    pid: int
    clock: ClockOffset


def cluster_address(flag: str | None, config: Callable[[], Config]) -> tuple[str, str] | None:
    """The scheduler address and where it came from (``--cluster``, else ``[load] cluster`` / env), or None.

    ``config`` gives the effective config; it is read only when the flag is not given.
    """
    if flag is not None:
        return (flag.strip(), "--cluster") if flag.strip() else None
    cfg = config()
    if not cfg.load.cluster:
        return None
    return cfg.load.cluster, cfg.source_of("load.cluster")


def normalized_address(address: str) -> tuple[str, str, int]:
    """``tcp://host:8786`` (a bare ``host:port`` means tcp) → (address, host, port); a UsageError otherwise."""
    text = address if "://" in address else f"tcp://{address}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise UsageError(
            f"--cluster: not a Dask scheduler address: {address!r}",
            hint="e.g. --cluster tcp://scheduler:8786",
        )
    return f"{parts.scheme}://{parts.netloc}", parts.hostname, port


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--cluster needs Dask distributed",
            hint="pip install 'perfbook[cluster]' (here and on the workers)",
        ) from None
    return distributed


class Cluster:
    """A Dask client and the checked workers of one ``perfbook load`` / ``capacity`` run.

    ``with connect("tcp://127.0.0.1:8786") as cluster: result = run_on_cluster(cluster, run)``
    """

    def __init__(self, address: str, client: Any, workers: list[ClusterWorker]) -> None:
        self.address = address
        self.client = client
        self.workers = workers
        self.confirmation: str | None = None  # why the run needs a yes, as the workers see the target

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect (the scheduler and workers keep running: they are the team's)."""
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # no noise from the teardown
        self.client.close(timeout=5)


def _probe(address: str, host: str, port: int) -> None:
    """Fail at once on a refused or unknown address (not after Dask's connect retries), and on a
    server that is not a Dask scheduler: Dask's client would wait forever for its greeting."""
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as err:
        raise UsageError(
            f"--cluster: cannot reach the Dask scheduler at {address}: {err.strerror or err}",
            hint="start one with: dask scheduler (see docs/load-cluster.md)",
        ) from None
    with sock:
        if not address.startswith("tcp://"):
            return  # TLS: the greeting comes after a handshake only Dask's client can make
        try:
            sock.settimeout(GREETING_TIMEOUT_S)
            greeting = sock.recv(256)  # a Dask server speaks first: its handshake options
        except OSError:
            greeting = b""
    if b"pickle-protocol" not in greeting:
        raise UsageError(
            f"--cluster: {address} is not a Dask scheduler (no Dask greeting within {GREETING_TIMEOUT_S:g}s)",
            hint="the scheduler's address is printed by dask scheduler: 'Scheduler at: tcp://…'",
        )


def connect(address: str, *, want_workers: int | None = None) -> Cluster:
    """Connect and check: scheduler, workers, perfbook versions, clocks. UsageError on any failure."""
    address, host, port = normalized_address(address)
    distributed = _distributed()  # before the probe: a missing extra is said first
    _probe(address, host, port)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise UsageError(f"--cluster: {address} did not answer as a Dask scheduler ({err})") from None
    try:
        return Cluster(address, client, _checked_workers(client, address, want_workers))
    except BaseException:
        client.close(timeout=5)
        raise


def _checked_workers(client: Any, address: str, want: int | None) -> list[ClusterWorker]:
    if want:
        try:
            client.wait_for_workers(want, timeout=WAIT_FOR_WORKERS_S)
        except TimeoutError:
            have = len(client.nthreads())
            raise UsageError(
                f"--cluster: {address} has {have} worker{'s' if have != 1 else ''}, --workers asked for {want}"
            ) from None
    addresses = sorted(client.nthreads())
    if not addresses:
        raise UsageError(
            f"--cluster: the Dask scheduler at {address} has no workers",
            hint=f"start one on each load host: dask worker {address} --nworkers auto",
        )
    chosen = addresses[:want] if want else addresses
    _check_versions(client, chosen)
    from perfbook.load.cluster_worker import identify

    ids = client.run(identify, workers=chosen)
    offsets = _clock_offsets(client, chosen)
    found = [ClusterWorker(a, ids[a]["name"] or a, ids[a]["host"], ids[a]["pid"], offsets[a]) for a in chosen]
    return sorted(found, key=lambda w: (w.host, w.name))  # the per-worker table reads by host, then name


def _check_versions(client: Any, addresses: list[str]) -> None:
    ours = metadata.version("perfbook")
    # importlib's own function, so a worker without perfbook still answers (with an error)
    found = client.run(metadata.version, "perfbook", workers=addresses, on_error="return")
    bad = []
    for addr in addresses:
        theirs = found.get(addr)
        if isinstance(theirs, metadata.PackageNotFoundError):
            bad.append(f"{addr} has no perfbook")
        elif isinstance(theirs, BaseException):
            bad.append(f"{addr} failed: {type(theirs).__name__}: {theirs}")
        elif theirs != ours:
            bad.append(f"{addr} has perfbook {theirs}")
    if bad:
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UsageError(
            f"--cluster: workers need perfbook {ours}: {'; '.join(bad[:3])}{more}",
            hint=f"pip install 'perfbook[cluster]=={ours}' on every worker host, then restart dask worker",
        )


def _clock_offsets(client: Any, addresses: list[str]) -> dict[str, ClockOffset]:
    # One worker at a time: a broadcast's round trip waits for the slowest worker, and the
    # uncertainty is half the round trip (≈ 1 ms on one machine, a few ms across a LAN).
    offsets = {}
    for addr in addresses:
        rounds = []
        for _ in range(CLOCK_ROUNDS):
            sent = time.time()
            theirs = client.run(time.time, workers=[addr])[addr]
            rounds.append((sent, time.time(), theirs))
        offsets[addr] = clock_offset(rounds)
    return offsets


def confirmation_reason(cluster: Cluster, host: str, method: str) -> str | None:
    """Why this run needs a yes, asked on every worker: the target is not on a worker's machine, or not a GET."""
    from perfbook.load.cluster_worker import is_remote_here

    remote = cluster.client.run(is_remote_here, host, workers=[w.address for w in cluster.workers])
    hosts = sorted({w.host for w in cluster.workers if remote.get(w.address)})
    reasons = []
    if hosts:
        more = f" (+{len(hosts) - 3} more)" if len(hosts) > 3 else ""
        reasons.append(f"{host} is not on the workers' machines ({', '.join(hosts[:3])}{more})")
    if method.upper() not in ("GET", "HEAD"):
        reasons.append(f"{method.upper()} may change data")
    return " and ".join(reasons) or None
