"""panoramisk's Manager with a protocol that frames bytes, not text.

panoramisk 1.4's ``AMIProtocol.data_received`` decodes every network read on
its own (``data.decode(encoding, 'ignore')``): a UTF-8 character split
across two reads is silently dropped ("Hélène" arrives as "Hlne"). The fix
belongs where the bytes become text: ``FrameProtocol`` keeps the bytes until
a frame is whole (``codec.FrameReader``) and decodes whole frames only.

The same place is where most of the AMI stream can be skipped cheaply: the
dispatcher reads a handful of event kinds out of the hundred Asterisk sends
(VarSet, Newexten, AGIExec*, RTCPSent... are most of the traffic). Each event
name is routed once (cached): to a *fast handler* that gets a plain dict, to
panoramisk's own ``register_event`` callbacks (a ``Message``), or nowhere,
decided on the name's bytes before anything is decoded. Responses and the
items of event lists (``ActionID``) go through panoramisk's action futures
as before.

``AmiManager`` is panoramisk's ``Manager`` with this protocol, reconnection
with exponential backoff (panoramisk retries at a fixed, integer delay) and
pending actions failed with ``AmiDisconnected`` when the link drops instead of
being re-sent blindly after reconnecting (a Redirect decided before an outage
must not run after it: the adapter resynchronises and decides again).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from dispatcher.ami import codec
from dispatcher.ami.ratelog import RateLimitedLog

log = logging.getLogger(__name__)

FastHandler = Callable[[str, codec.Headers], None]


class AmiDisconnected(ConnectionError):
    """The AMI link dropped before the action got its response."""


@dataclass(frozen=True, slots=True)
class Route:
    """What to do with one event name: a fast handler, panoramisk callbacks, both or nothing."""

    fast: FastHandler | None = None
    must_contain: bytes | None = None
    panoramisk: bool = False


DROP = Route()


class FrameProtocol(AMIProtocol):
    """``AMIProtocol`` that cuts the byte stream into frames before decoding them."""

    factory: AmiManager
    # Set by panoramisk's AMIProtocol (untyped): declared here for the type checker.
    version: str | None
    closed: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.reader = codec.FrameReader()
        self._early: list[bytes] = []
        self.frames_in = 0
        self.skipped = 0
        self.malformed = 0

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        if self.factory is None:
            # Bytes read before the Manager took the connection (it does on the next loop
            # turn): keep them for the next read.
            self._early.append(data)
            return
        if self._early:
            data = b"".join([*self._early, data])
            self._early.clear()
        self.factory.last_read = time.monotonic()
        reader = self.reader
        frames = reader.feed(data)
        if self.version is None and reader.banner is not None:
            _, _, version = reader.banner.partition("/")
            self.version = version.strip()
            self.log.info("AMI protocol version: %r", self.version)
        if not frames:
            return
        self.frames_in += len(frames)
        self.factory.frames_in += len(frames)
        route_for = self.factory.route_for
        for frame in frames:
            try:
                if frame.startswith(b"Event: "):
                    end = frame.find(b"\r\n")
                    name = frame[7:end] if end > 0 else frame[7:]
                    if name == b"Shutdown":
                        self._shutdown(codec.parse(codec.decode(frame)))
                        continue
                    route = route_for(name)
                    if self.responses and b"\nActionID: " in frame and self._is_list_item(frame):
                        self._to_panoramisk(frame)
                        continue
                    if route is DROP or (
                        route.must_contain is not None and route.must_contain not in frame
                    ):
                        self.skipped += 1
                        continue
                    text = codec.decode(frame)
                    if route.fast is not None:
                        route.fast(name.decode("ascii", "replace"), codec.parse(text))
                    if route.panoramisk:
                        self._dispatch_text(text)
                elif frame.startswith(b"Response: "):
                    self._to_panoramisk(frame)
                else:
                    self._malformed(frame, "neither an Event nor a Response")
            except Exception:
                # One bad frame (or a handler bug on it) must not stop the stream.
                self.malformed += 1
                self.factory.problems.log(
                    logging.ERROR,
                    "frame_error",
                    "AMI: frame skipped after an error: %r",
                    frame[:200],
                    exc_info=True,
                )

    def _shutdown(self, headers: codec.Headers) -> None:
        """Asterisk stops (``core restart``, ``core stop``): it closes the socket next; close ours now.

        The manager reconnects with its backoff and the login resynchronises
        (shutdown-restart.txt: the new Asterisk accepts a Login 0.4 s later).
        """
        log.warning(
            "AMI: Asterisk is shutting down (%s, restart: %s); reconnecting",
            headers.get("Shutdown", "?"),
            headers.get("Restart", "?"),
        )
        self.transport.close()

    def _is_list_item(self, frame: bytes) -> bool:
        """True if the frame answers an action still waiting (an EventList item)."""
        start = frame.index(b"\nActionID: ") + 11
        end = frame.find(b"\r\n", start)
        action_id = frame[start : end if end >= 0 else len(frame)].decode("utf-8", "replace")
        return action_id in self.responses

    def _to_panoramisk(self, frame: bytes) -> None:
        text = codec.decode(frame).strip()
        message = Message.from_line(text)
        if message is None:
            self._malformed(frame, "no Event or Response line")
            return
        self.handle_message(message)

    def _dispatch_text(self, text: str) -> None:
        message = Message.from_line(text.strip())
        if message is not None:
            self.handle_message(message)

    def _malformed(self, frame: bytes, why: str) -> None:
        self.malformed += 1
        self.factory.problems.warning(
            "malformed_frame",
            "AMI: malformed frame skipped (%s, %d so far on this link): %r",
            why,
            self.malformed,
            frame[:200],
        )

    def send(self, data: Any, as_list: bool = False) -> asyncio.Future[Any]:
        if self.closed or self.transport.is_closing():
            action_future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            action_future.set_exception(AmiDisconnected("AMI link is down"))
            action_future.add_done_callback(_consume)
            return action_future
        return super().send(data, as_list=as_list)

    def close(self) -> None:
        """Close; actions still waiting for a response fail with ``AmiDisconnected``."""
        pending = {id(a): a for a in self.responses.values()}
        self.responses.clear()
        for action in pending.values():
            future = action.future
            if not future.done():
                future.set_exception(
                    AmiDisconnected(f"AMI link lost before the response to {action['action']}")
                )
                future.add_done_callback(_consume)
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a failed action's exception as seen (whoever awaits it still gets it)."""
    if not future.cancelled():
        future.exception()


class AmiManager(Manager):
    """panoramisk's ``Manager`` with ``FrameProtocol``, fast routes and backoff reconnection.

    Extra settings: ``reconnect_min`` / ``reconnect_max`` (seconds, the backoff
    range; the delay doubles after each failed attempt, with jitter) and
    ``on_lost`` (called with the manager when an established link drops).
    """

    # Set by panoramisk's Manager (untyped): declared here for the type checker.
    authenticated: bool

    def __init__(self, **config: Any) -> None:
        config.setdefault("protocol_factory", FrameProtocol)
        config.setdefault("ping_delay", 10)
        ping_interval = float(config.get("ping_interval", 10))
        ping_delay = float(config["ping_delay"])
        self.reconnect_min = float(config.pop("reconnect_min", 0.5))
        self.reconnect_max = float(config.pop("reconnect_max", 30.0))
        self._on_lost = config.pop("on_lost", None)
        self.login_timeout = float(config.pop("login_timeout", 10.0))
        self.problems = RateLimitedLog(log, float(config.pop("log_interval", 60.0)))
        self._login_timer: asyncio.TimerHandle | None = None
        self._fast: dict[bytes, tuple[FastHandler, bytes | None]] = {}
        self._routes: dict[bytes, Route] = {}
        self.unknown_event: Callable[[str], None] | None = None
        """Called once with each event name that no route takes (for logging)."""
        super().__init__(**config)
        self.ping_interval, self.ping_delay = (
            ping_interval,
            ping_delay,
        )  # panoramisk makes them ints
        self.last_read = time.monotonic()
        self._delay = self.reconnect_min
        self._retry: asyncio.TimerHandle | None = None
        self.closing = False
        self.connections = 0
        self.frames_in = 0
        """AMI frames read over all connections."""

    # ------------------------------------------------------------ routing

    def register_fast(
        self, name: str, handler: FastHandler, must_contain: bytes | None = None
    ) -> None:
        """Send events called ``name`` to ``handler(name, headers)`` as plain dicts.

        ``must_contain``: skip, before decoding, the frames that lack these bytes
        (e.g. ``b"Variable: GUICHET_"`` keeps the VarSet events of the IVR only).
        """
        self._fast[name.encode("ascii")] = (handler, must_contain)
        self._routes.clear()

    def register_event(self, pattern: str, callback: Any = None) -> Any:
        self._routes.clear()
        return super().register_event(pattern, callback)

    def route_for(self, name: bytes) -> Route:
        """The route of one event name (computed once)."""
        route = self._routes.get(name)
        if route is None:
            text = name.decode("ascii", "replace")
            fast, must = self._fast.get(name, (None, None))
            patterned = any(regexp.match(text) for _pattern, regexp in self.patterns)
            route = Route(fast, must, patterned) if fast or patterned else DROP
            self._routes[name] = route
            if route is DROP and self.unknown_event is not None:
                self.unknown_event(text)
        return route

    # -------------------------------------------------------- connection

    def ping(self) -> None:
        """Ping Asterisk; a link silent for three intervals is dead (half-open TCP): drop it."""
        protocol = self.protocol
        if protocol is not None and not protocol.closed and self.authenticated:
            silent = time.monotonic() - self.last_read
            if silent > 3 * self.ping_interval:
                log.error("AMI: nothing from Asterisk for %.1fs; dropping the link", silent)
                protocol.transport.abort()
                return
        if protocol is not None and not protocol.closed:
            super().ping()
        else:
            self.pinger = None

    def connect(
        self, run_forever: bool = False, on_startup: Any = None, on_shutdown: Any = None
    ) -> Any:
        self.closing = False
        self._retry = None
        return super().connect(run_forever, on_startup, on_shutdown)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.closing:
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        if not f.cancelled() and isinstance(f.exception(), OSError):
            self.problems.warning(
                "cannot_connect",
                "AMI: cannot connect to %s:%s (%s); retry in %.2fs",
                self.config["host"],
                self.config["port"],
                f.exception(),
                self._delay,
            )
            self._schedule_reconnect()
            return
        self.connections += 1
        super().connection_made(f)
        if self.login_timeout > 0 and "username" in self.config:
            self._login_timer = self.loop.call_later(self.login_timeout, self._login_overdue)

    def _login_overdue(self) -> None:
        """Asterisk answered nothing to the Login: the link is useless, drop it and retry."""
        self._login_timer = None
        protocol = self.protocol
        if self.authenticated or protocol is None or protocol.closed:
            return
        self.problems.error(
            "login_timeout",
            "AMI: no answer to Login from %s:%s within %.1fs; dropping the link",
            self.config["host"],
            self.config["port"],
            self.login_timeout,
        )
        protocol.transport.abort()

    def login(self, future: asyncio.Future[Any]) -> bool:
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        if future.cancelled() or future.exception() is not None:
            self.authenticated_future = None
            return False
        ok = bool(super().login(future))
        if ok:
            self._delay = self.reconnect_min
            return ok
        self.problems.error(
            "login_refused",
            "AMI: login refused for user %r by %s:%s: %s; retrying",
            self.config.get("username"),
            self.config["host"],
            self.config["port"],
            future.result().get("Message", ""),
        )
        # Asterisk closes the socket after a failed Login; a server that keeps it open
        # would leave us waiting: close it ourselves and retry with backoff.
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        protocol = self.protocol
        if protocol is not None and not protocol.closed:
            protocol.transport.abort()
        return ok

    def connection_lost(self, exc: Any) -> None:
        was_up = self.authenticated
        self._connected = False
        self.authenticated = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        if self.closing:
            return
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        self.problems.log(
            logging.ERROR if was_up else logging.WARNING,
            "connection_lost" if was_up else "connection_failed",
            "AMI: connection lost (%s); reconnect in %.2fs",
            exc or "closed",
            self._delay,
        )
        self.loop.call_soon(self.on_disconnect, self, exc)
        if self._on_lost is not None:
            self._on_lost(self)
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        delay = self._delay * (0.8 + 0.4 * random.random())
        self._delay = min(self._delay * 2, self.reconnect_max)
        self._retry = self.loop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        self._retry = None
        if not self.closing:
            self.connect()

    @property
    def connected(self) -> bool:
        """True while logged in on a live link."""
        protocol = self.protocol
        return bool(self.authenticated and protocol is not None and not protocol.closed)

    def close(self) -> None:
        """Close the link for good (no reconnection)."""
        self.closing = True
        for handle in (self._retry, self._login_timer):
            if handle is not None:
                handle.cancel()
        self._retry = self._login_timer = None
        super().close()
