"""The hot path: one worker's connections on one event loop (asyncio Protocols + httptools).

Per request the work is: write prepared bytes, feed the parser, and on message-complete append
one float to a list and bump two counters. Everything else (histograms, progress, timeouts,
the stop check, the per-second series) happens in a tick every 0.25 s.

The series: each tick's batch of completed requests goes to the second (since the run's start)
of the middle of the tick's interval, into that second's counts and HDR histogram; so a response
costs nothing more, and a second's edge is exact to within a tick. Responses that complete after
the planned duration (the last requests in flight, the open loop's drain) count in its last second.

Closed loop: each connection sends its next request as soon as the previous response is in.
Open loop (``schedule``): each request of the schedule goes out at its intended time on a free
connection; with none free a new one is opened, up to ``max_connections`` (k6's ``maxVUs``: the
``-c`` connections are opened at the start, more as the target's latency asks for them). At the
limit a request waits for the next free connection and its corrected latency counts from its
intended time (wrk2's coordinated-omission correction); requests still waiting when the schedule
ends are not sent, and the result says how many. After the schedule, requests in flight get
``timeout_s`` to finish (the drain), so an open-loop run never lasts more than the schedule plus
``timeout_s``.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter

from perfbook.load import hist
from perfbook.load.protocol import CONN_CLASSES, Conn, Slot
from perfbook.load.schedule import Schedule

ERROR_KINDS = ("connect_refused", "connect_timeout", "connect_error", "timeout", "reset", "parse")
_UNLIMITED = 1 << 62
TICK_S = 0.25
STOP, CUT = 1, 2  # what a control callback may answer: stop sending, or also cut what is in flight (a signal)


@dataclass(frozen=True)
class WorkerPlan:
    """One worker's share of a load test (picklable: sent to worker processes)."""

    host: str
    port: int
    request: bytes
    connections: int
    requests: int | None = None  # None: until duration_s / the schedule ends
    duration_s: float | None = None
    stages: tuple = ()  # open loop when set: Stage tuple, scaled by share
    share: float = 1.0
    timeout_s: float = 10.0
    keepalive: bool = True
    head: bool = False  # HEAD responses have no body: complete on headers
    ssl: bool = False
    verify_tls: bool = True
    server_hostname: str | None = None
    max_connections: int = 0  # open loop: connections it may open as latency asks (0: ``connections``)


@dataclass
class Snapshot:
    """What the live view shows, cumulative except the interval figures."""

    elapsed_s: float = 0.0
    requests: int = 0
    responses: int = 0
    errors: int = 0  # transport errors + 5xx
    interval_rps: float = 0.0
    p50_s: float | None = None
    p99_s: float | None = None


@dataclass
class WorkerResult:
    """Totals of one worker; histograms are hdrh-encoded so they cross process boundaries."""

    responses: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    status_codes: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    duration_s: float = 0.0
    latency: str = ""
    latency_uncorrected: str = ""
    interrupted: bool = False
    error_examples: dict[str, str] = field(default_factory=dict)  # kind → first message seen
    interim: int = 0  # interim 1xx responses (100 Continue …): not responses, not requests
    scheduled: int = 0  # open loop: requests the schedule asked for
    sent: int = 0  # open loop: requests sent (a failed connect counts: it is a transport error)
    waited: int = 0  # open loop: requests that found every one of max_connections busy and waited
    peak_connections: int = 0  # open loop: most connections open (or opening) at once
    max_connections: int = 0  # open loop: the limit it could open
    schedule_s: float = 0.0  # open loop: how long the schedule lasts (the run's duration less the drain)
    # per second since the start: (second, requests, errors, hdrh-encoded latency), seconds in order
    series: list[tuple[int, int, int, str]] = field(default_factory=list)


class _Run:
    def __init__(self, plan: WorkerPlan, control: Callable[[Snapshot], int] | None) -> None:
        self.plan = plan
        self.loop = asyncio.get_running_loop()
        self.request = plan.request
        self.keepalive = plan.keepalive
        self.head = plan.head
        self.control = control
        self.open_loop = bool(plan.stages)
        self.schedule = Schedule(list(plan.stages), plan.share, plan.requests) if self.open_loop else None
        self.remaining = _UNLIMITED if plan.requests is None else plan.requests
        self.stopping = False
        self.interrupted = False
        self.lat: list[float] = []
        self.lat_corrected: list[float] = []
        self.codes = [0] * 1000
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.interim = 0
        self.error_examples: dict[str, str] = {}
        self.bytes_closed = 0
        self.conn_class = CONN_CLASSES[(self.open_loop, plan.head)]
        self.conns: list[Conn] = []
        self.slots: asyncio.Future | None = None  # the gather of every slot loop
        self.hist = hist.new_histogram()
        self.hist_corrected = hist.new_histogram()
        self.ssl_ctx: ssl.SSLContext | None = None
        if plan.ssl:
            self.ssl_ctx = ssl.create_default_context()
            if not plan.verify_tls:
                self.ssl_ctx.check_hostname = False
                self.ssl_ctx.verify_mode = ssl.CERT_NONE
        self.t0 = perf_counter()
        self._last_tick = (self.t0, 0)
        # open loop: the pool of connections
        self.max_conns = max(plan.max_connections or plan.connections, 1)
        self.idle: list[Conn] = []  # connected, nothing in flight (the last freed is reused first)
        self.backlog: deque[float] = deque()  # intended times of requests waiting for a connection
        self.count = 0  # connections open or opening
        self.spare = 0  # the -c connections opened at the start, not connected yet
        self.peak = 0
        self.scheduled = self.sent = self.waited = 0
        self.arrivals_done = False
        self.closed_all = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.slot = Slot(0)
        # the per-second series: the second being filled, its counts and histogram, the seconds done
        planned = self.schedule.duration_s if self.schedule is not None else plan.duration_s
        self.last_second = max(math.ceil(planned) - 1, 0) if planned else None
        self.series: list[tuple[int, int, int, str]] = []
        self.second = -1
        self.second_hist = hist.new_histogram()
        self.second_counts = [0, 0]  # requests, errors
        self._last_flush = (self.t0, 0, 0)  # when, requests, errors

    # -- open loop --------------------------------------------------------------------------
    async def arrivals(self) -> None:
        """Each request of the schedule at its intended time on a free connection; then the drain."""
        for _ in range(min(self.plan.connections, self.max_conns)):  # -c: ready before they are needed
            self.spare += 1
            self.open_conn(None)
        schedule = self.schedule
        assert schedule is not None  # open loop: always a schedule
        index = 0
        at = schedule.at
        while not self.stopping and (offset := at(index)) is not None:
            intended = self.t0 + offset
            delay = intended - perf_counter()
            if delay > 0:  # behind schedule no sleep: the due requests go out at once
                await asyncio.sleep(delay)
                if self.stopping:
                    break
            index += 1
            self.dispatch(intended)
        self.scheduled = schedule.requests
        self.backlog.clear()  # the schedule is over: what still waits for a connection is not sent
        self.arrivals_done = True
        for conn in self.idle:
            conn.transport.close()
        self.idle.clear()
        if self.count:
            try:  # in flight: answered or timed out (the tick) within timeout_s
                await asyncio.wait_for(self.closed_all.wait(), self.plan.timeout_s + 2 * TICK_S)
            except TimeoutError:
                self.abort_all(cancel=False)

    def dispatch(self, intended: float) -> None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.transport.is_closing():
                self.send(conn, intended)
                return
        if len(self.backlog) < self.spare:  # a -c connection still connecting will take it
            self.backlog.append(intended)
        elif self.count < self.max_conns:
            self.open_conn(intended)
        else:  # the limit: wait for the next free connection, late
            self.waited += 1
            self.backlog.append(intended)

    def send(self, conn: Conn, intended: float) -> None:
        self.sent += 1
        conn.send(intended)

    def schedule_next(self, conn: Conn) -> None:
        """A connection is free: the oldest waiting request, else back to the idle pool."""
        if self.backlog and not self.stopping:
            self.send(conn, self.backlog.popleft())
        elif self.arrivals_done or self.stopping:
            conn.transport.close()
        else:
            self.idle.append(conn)

    def open_conn(self, intended: float | None) -> None:
        """A new connection for a request due at ``intended`` (None: one of -c, for what comes)."""
        self.count += 1
        self.peak = max(self.peak, self.count)
        task = asyncio.ensure_future(self._open_conn(intended))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open_conn(self, intended: float | None) -> None:
        conn = self.conn_class(self, self.slot)
        started = perf_counter()
        failed = await self.connect(conn, counted=intended is not None)
        if intended is None:
            self.spare -= 1
        if failed is None:
            self.conns.append(conn)
            if self.stopping:
                conn.transport.close()
            elif intended is not None:
                self.send(conn, intended)
                if not self.keepalive:
                    conn.sent_at = started  # --no-keepalive measures connection set-up too
            else:
                self.schedule_next(conn)
            await conn.done
            self.conns.remove(conn)
            if conn in self.idle:  # closed by the server while idle
                self.idle.remove(conn)
        elif intended is not None:
            self.sent += 1  # sent as far as it got: a transport error
        self.count -= 1
        if (
            self.backlog
            and not self.stopping
            and self.count < self.max_conns
            and len(self.backlog) > self.spare
        ):
            self.open_conn(self.backlog.popleft())  # what waited for the connection just lost
        if self.count == 0 and self.arrivals_done:
            self.closed_all.set()

    # -- connections ------------------------------------------------------------------------
    async def connect(self, conn: Conn, counted: bool = True) -> str | None:
        """Connect ``conn``: None, or the error kind (counted as one request's transport error when ``counted``)."""
        plan = self.plan
        reason: OSError | str
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda c=conn: c,
                    plan.host,
                    plan.port,
                    ssl=self.ssl_ctx,
                    server_hostname=plan.server_hostname if self.ssl_ctx else None,
                ),
                plan.timeout_s,
            )
            return None
        except ConnectionRefusedError as err:
            kind, reason = "connect_refused", err
        except TimeoutError:
            kind, reason = "connect_timeout", f"no connection within {plan.timeout_s:g}s"
        except OSError as err:
            kind, reason = "connect_error", err
        if counted:
            self.error(kind, reason)
        return kind

    async def slot_loop(self, index: int) -> None:
        """Closed loop: one connection after another, each sending until -n or -d is done."""
        slot = Slot(index)
        while not self.stopping:
            if self.remaining <= 0:
                return
            self.remaining -= 1  # claimed before connecting: -n counts stay exact
            intended = started = perf_counter()
            conn = self.conn_class(self, slot)
            failed = await self.connect(conn)
            if failed == "connect_timeout":
                continue
            if failed is not None:
                await asyncio.sleep(0.001 if failed == "connect_error" else 0)
                continue
            self.conns.append(conn)
            conn.send(intended)
            if not self.keepalive:
                conn.sent_at = started  # --no-keepalive measures connection set-up too
            await conn.done
            self.conns.remove(conn)

    # -- the tick: histograms, progress, timeouts, stop ---------------------------------------
    def flush(self) -> tuple[list[float], list[float]]:
        # copy and clear in place: the connections hold the lists' bound append methods
        batch, corrected = self.lat[:], self.lat_corrected[:]
        self.lat.clear()
        self.lat_corrected.clear()
        hist.record_batch(self.hist, batch)
        hist.record_batch(self.hist_corrected, corrected)
        self.record_second(corrected if self.open_loop else batch)
        return batch, corrected

    def record_second(self, batch: list[float]) -> None:
        """The batch since the last flush into the second of the interval's middle."""
        now = perf_counter()
        last_t, last_requests, last_errors = self._last_flush
        transport_errors = sum(self.errors.values())
        requests = self.responses() + transport_errors
        errors = transport_errors + sum(self.codes[500:600])
        self._last_flush = (now, requests, errors)
        second = int((last_t + now) / 2 - self.t0)
        if self.last_second is not None:
            second = min(second, self.last_second)
        if second != self.second:
            self.close_second()
            self.second = second
        hist.record_batch(self.second_hist, batch)
        self.second_counts[0] += requests - last_requests
        self.second_counts[1] += errors - last_errors

    def close_second(self) -> None:
        if self.second >= 0 and (self.second_counts[0] or self.second_hist.get_total_count()):
            requests, errors = self.second_counts
            self.series.append((self.second, requests, errors, hist.encode(self.second_hist)))
            self.second_hist = hist.new_histogram()
        self.second_counts = [0, 0]

    def responses(self) -> int:
        return sum(self.codes)

    def tick(self) -> None:
        now = perf_counter()
        batch, corrected = self.flush()
        for conn in list(self.conns):
            if conn.inflight and now - conn.sent_at > self.plan.timeout_s:
                conn.fail("timeout", f"no response within {self.plan.timeout_s:g}s")
        if self.control is None:
            return
        responses = self.responses()
        transport_errors = sum(self.errors.values())
        last_t, last_n = self._last_tick
        self._last_tick = (now, responses)
        p50, p99 = hist.quick_percentiles(corrected if self.open_loop else batch)
        snap = Snapshot(
            elapsed_s=now - self.t0,
            requests=responses + transport_errors,
            responses=responses,
            errors=transport_errors + sum(self.codes[500:600]),
            interval_rps=(responses - last_n) / max(now - last_t, 1e-9),
            p50_s=p50,
            p99_s=p99,
        )
        verdict = self.control(snap)
        if verdict:
            self.stop()
        if verdict == CUT:  # a signal: end within a tick, requests in flight are cut (not errors)
            self.interrupted = True
            self.abort_all()

    def error(self, kind: str, reason: object) -> None:
        """Count a transport error; keep the first message of each kind for the report."""
        self.errors[kind] += 1
        if kind not in self.error_examples:
            text = str(reason) if str(reason) else type(reason).__name__
            self.error_examples[kind] = (
                text if isinstance(reason, str) else f"{type(reason).__name__}: {text}"
            )

    def stop(self) -> None:
        self.stopping = True
        self.remaining = 0
        for conn in list(self.conns):
            if conn.transport is not None and not conn.inflight:
                conn.transport.close()

    def abort_all(self, cancel: bool = True) -> None:
        if cancel and self.slots is not None:  # slots asleep until their next intended send end now too
            self.slots.cancel()
        for task in list(self.tasks):  # open loop: connections still connecting
            task.cancel()
        for conn in list(self.conns):
            conn.inflight = False  # cut short by the user: not an error of the target
            if conn.transport is not None:
                conn.transport.abort()

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(min(TICK_S, self.plan.timeout_s / 4))
            self.tick()

    def result(self, duration_s: float) -> WorkerResult:
        self.flush()
        self.close_second()
        corrected = self.hist_corrected if self.open_loop else self.hist
        return WorkerResult(
            responses=self.responses(),
            errors=dict(self.errors),
            status_codes={str(code): n for code, n in enumerate(self.codes) if n},
            bytes=self.bytes_closed + sum(c.nbytes for c in self.conns),
            duration_s=duration_s,
            latency=hist.encode(corrected),
            latency_uncorrected=hist.encode(self.hist),
            interrupted=self.interrupted,
            error_examples=dict(self.error_examples),
            interim=self.interim,
            scheduled=self.scheduled,
            sent=self.sent,
            waited=self.waited,
            peak_connections=self.peak,
            max_connections=self.max_conns if self.open_loop else 0,
            schedule_s=self.schedule.duration_s if self.schedule is not None else 0.0,
            series=self.series,
        )


async def run_worker(plan: WorkerPlan, control: Callable[[Snapshot], int] | None = None) -> WorkerResult:
    """Run one worker's share to the end (count, duration or schedule) and return its totals.

    ``control`` is called every tick with a :class:`Snapshot`; a true answer stops the run (abort
    on errors): in-flight requests then finish or time out. :data:`CUT` (a signal) cuts them too.
    """
    run = _Run(plan, control)
    if plan.duration_s is not None and not run.open_loop:
        run.loop.call_later(plan.duration_s, run.stop)
    ticker = asyncio.ensure_future(run.ticker())
    if run.open_loop:
        run.slots = asyncio.ensure_future(run.arrivals())
    else:
        run.slots = asyncio.gather(*(run.slot_loop(i) for i in range(plan.connections)))
    try:
        await run.slots
    except asyncio.CancelledError:
        run.interrupted = True
        run.stop()
        run.abort_all()
    finally:
        ticker.cancel()
    duration_s = perf_counter() - run.t0
    run.tick()
    return run.result(duration_s)
