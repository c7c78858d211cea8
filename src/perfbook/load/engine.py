"""The hot path: one worker's connections on one event loop (asyncio Protocols + httptools).

Per request the work is: write prepared bytes, feed the parser, and on message-complete append
one float to a list and bump two counters. Everything else (histograms, progress, timeouts,
the stop check) happens in a tick every 0.25 s.

Closed loop: each connection sends its next request as soon as the previous response is in.
Open loop (``schedule``): connection k sends requests k, k+C, k+2C … of the schedule at their
intended times; a late response delays that connection's next send, and the corrected latency
counts from the intended time (wrk2's coordinated-omission correction).
"""

from __future__ import annotations

import asyncio
import ssl
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

    # -- open loop --------------------------------------------------------------------------
    def claim_due(self, slot: Slot) -> float | None:
        """The next intended time (perf_counter) of this slot, advancing it; None at the end."""
        offset = self.schedule.at(slot.next_index)  # type: ignore[union-attr]  # open loop: set
        if offset is None or self.stopping:
            return None
        slot.next_index += self.plan.connections
        return self.t0 + offset

    def schedule_next(self, conn: Conn) -> None:
        intended = self.claim_due(conn.slot)
        if intended is None:
            conn.transport.close()
            return
        delay = intended - perf_counter()
        if delay <= 0:
            conn.send(intended)
        else:
            conn.pending = intended
            self.loop.call_later(delay, conn.send_pending)

    # -- connections ------------------------------------------------------------------------
    async def slot_loop(self, index: int) -> None:
        slot = Slot(index)
        plan = self.plan
        carried: float | None = None  # a send the last connection could not make (server closed it)
        while not self.stopping:
            if self.open_loop:
                intended = carried if carried is not None else self.claim_due(slot)
                carried = None
                if intended is None:
                    return
                delay = intended - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                if self.remaining <= 0:
                    return
                self.remaining -= 1  # claimed before connecting: -n counts stay exact
                intended = perf_counter()
            started = perf_counter()
            conn = self.conn_class(self, slot)
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
            except ConnectionRefusedError as err:
                self.error("connect_refused", err)
                await asyncio.sleep(0)
                continue
            except TimeoutError:
                self.error("connect_timeout", f"no connection within {plan.timeout_s:g}s")
                continue
            except OSError as err:
                self.error("connect_error", err)
                await asyncio.sleep(0.001)
                continue
            self.conns.append(conn)
            conn.send(intended)
            if not self.keepalive:
                conn.sent_at = started  # --no-keepalive measures connection set-up too
            await conn.done
            self.conns.remove(conn)
            carried, conn.pending = conn.pending, None

    # -- the tick: histograms, progress, timeouts, stop ---------------------------------------
    def flush(self) -> tuple[list[float], list[float]]:
        # copy and clear in place: the connections hold the lists' bound append methods
        batch, corrected = self.lat[:], self.lat_corrected[:]
        self.lat.clear()
        self.lat_corrected.clear()
        hist.record_batch(self.hist, batch)
        hist.record_batch(self.hist_corrected, corrected)
        return batch, corrected

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

    def abort_all(self) -> None:
        if self.slots is not None:  # slots asleep until their next intended send end now too
            self.slots.cancel()
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
        )


async def run_worker(plan: WorkerPlan, control: Callable[[Snapshot], int] | None = None) -> WorkerResult:
    """Run one worker's share to the end (count, duration or schedule) and return its totals.

    ``control`` is called every tick with a :class:`Snapshot`; a true answer stops the run (abort
    on errors): in-flight requests then finish or time out. :data:`CUT` (a signal) cuts them too.
    """
    run = _Run(plan, control)
    if plan.duration_s is not None and not run.open_loop:
        run.loop.call_later(plan.duration_s, run.stop)
    elif run.open_loop:
        # Behind schedule (an overloaded target), a connection would send its backlog long after
        # the run's end: stop one timeout past the schedule instead; what was late counts as late.
        run.loop.call_later(run.schedule.duration_s + plan.timeout_s, run.stop)  # type: ignore[union-attr]
    ticker = asyncio.ensure_future(run.ticker())
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
