"""Ticket numbers: the domain's letter + 3 digits, unique per site and local day.

The series lives in Redis (one counter per site, local day and letter). One
Lua script takes the next number AND appends the ticket's ``ContactArrived``
to the dispatcher's intake stream, atomically: any number of kiosks, a
dispatcher restart or a kill -9 can neither give a number twice nor lose an
issued ticket (the intake is applied exactly once, and from there the ticket
goes to the SQL history with its contact). The day is the local date of the
site's time zone (Europe/Paris): the series starts again at local midnight,
DST nights included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from dispatcher import events as ev
from skills.model import Channel

MAX_NUMBER = 999
KEEP_SERIES_S = 3 * 86400

# KEYS: series counter, intake stream. ARGV: expiry, letter, event JSON with the
# placeholder @TICKET@. Returns the number, the intake id, the id of the intake
# entry just before (the dispatcher may apply the ticket at once if that one is
# its last applied) and the event as written.
ISSUE_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
if n > 999 then return {-1, '', '', ''} end
local ticket = ARGV[2] .. string.format('%03d', n)
local event = string.gsub(ARGV[3], '@TICKET@', ticket)
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local previous = '0-0'
if top[1] then previous = top[1][1] end
local id = redis.call('XADD', KEYS[2], '*', 'ev', event)
return {n, id, previous, event}
"""


class SeriesFull(Exception):
    """All 999 numbers of a letter are used today at this site."""


def local_day(at: float, timezone: str = "Europe/Paris") -> date:
    """The local date at time ``at`` (seconds since the epoch)."""
    return datetime.fromtimestamp(at, ZoneInfo(timezone)).date()


def ticket_name(letter: str, number: int) -> str:
    return f"{letter}{number:03d}"


def contact_id(site: str, day: date, ticket: str) -> str:
    """The contact of a ticket: unique since the ticket is unique per site and day."""
    return f"{site}-{day:%Y%m%d}-{ticket}"


def site_of(contact: str) -> str | None:
    """The site of a ticket's contact id (``hdv-20261201-A042`` -> ``hdv``)."""
    parts = contact.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and len(parts[1]) == 8 and parts[1].isdigit() else None


@dataclass(frozen=True, slots=True)
class Issued:
    """A ticket taken from the series, its contact already in the intake stream."""

    site: str
    day: date
    ticket: str
    contact_id: str
    intake_id: str
    previous_id: str
    """The intake entry just before this one when it was added ('0-0': none)."""
    line: bytes
    """The ``ContactArrived`` as written to the intake."""


class TicketSeries:
    """The per-site, per-day number series of each letter, in Redis, feeding the intake stream."""

    def __init__(self, redis: Redis, intake_key: str, prefix: str = "guichet", timezone: str = "Europe/Paris") -> None:
        self.redis = redis
        self.intake_key = intake_key
        self.prefix = prefix
        self.timezone = timezone
        self._script: Any = redis.register_script(ISSUE_SCRIPT)

    def key(self, site: str, day: date, letter: str) -> str:
        return f"{self.prefix}:tickets:{site}:{day:%Y%m%d}:{letter}"

    async def issue(
        self, site: str, letter: str, process: str, at: float, arrived_at: float | None = None
    ) -> Issued:
        """The next ticket of ``letter`` at ``site``; its ``ContactArrived`` is in the intake stream."""
        day = local_day(at, self.timezone)
        marker = "@TICKET@"
        event = ev.ContactArrived(
            at=at,
            contact_id=contact_id(site, day, marker),
            channel=Channel.COUNTER,
            process=process,
            arrived_at=arrived_at,
            ticket=marker,
            site=site,
        )
        number, intake_id, previous_id, line = await self._script(
            keys=[self.key(site, day, letter), self.intake_key],
            args=[KEEP_SERIES_S, letter, ev.dumps(event)],
        )
        if int(number) < 0:
            raise SeriesFull(f"{site}: the {letter} series is full today ({MAX_NUMBER} tickets)")
        ticket = ticket_name(letter, int(number))
        return Issued(site, day, ticket, contact_id(site, day, ticket), _text(intake_id), _text(previous_id), _bytes(line))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
