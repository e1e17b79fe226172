"""The AMI wire format: bytes in, whole frames out; actions out as bytes.

Asterisk's manager interface sends one banner line (``Asterisk Call
Manager/11.0.0`` on Asterisk 22), then frames: ``Key: Value`` lines ended by
CRLF, each frame ended by an empty line. A frame is text only once it is
whole: TCP may split the bytes anywhere, including inside a multi-byte UTF-8
character ("Hélène" is ``48 c3 a9 ...``), so the stream is cut on the frame
separator *as bytes* and each frame is decoded on its own, never each read.

Nothing here knows what the frames mean; ``dispatcher.ami.protocol`` routes
them and ``dispatcher.ami.adapter`` translates them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

EOL = b"\r\n"
SEP = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
MAX_FRAME_BYTES = 1 << 20
"""A frame larger than this is not AMI: the buffered bytes are dropped (logged)."""

Headers = dict[str, "str | list[str]"]


class FrameReader:
    """Cuts an AMI byte stream into whole frames, whatever the TCP reads.

    ``feed(data)`` returns the frames completed by ``data`` (bytes, without
    their separator); an incomplete tail waits for the next read. The banner
    line, when the stream starts with one, is kept in ``banner``.
    """

    __slots__ = ("_tail", "banner", "max_frame", "dropped_bytes", "_started")

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._tail = b""
        self.banner: str | None = None
        self.max_frame = max_frame
        self.dropped_bytes = 0
        self._started = False

    def feed(self, data: bytes) -> list[bytes]:
        """The whole frames that ``data`` completes, in order."""
        buf = self._tail + data if self._tail else data
        if not self._started:
            rest = self._take_banner(buf)
            if rest is None:
                return []
            buf = rest
        frames = buf.split(SEP)
        tail = frames.pop()
        if len(tail) > self.max_frame:
            log.warning("AMI: %d bytes without a frame end; dropped", len(tail))
            self.dropped_bytes += len(tail)
            tail = b""
        self._tail = tail
        return _resplit(frames) if frames else frames

    def _take_banner(self, buf: bytes) -> bytes | None:
        """Strip the banner line; None while it is not complete yet."""
        if not buf:
            return None
        n = min(len(buf), len(BANNER_PREFIX))
        if buf[:n] != BANNER_PREFIX[:n]:
            self._started = True  # no banner (a test stream, or garbage): frames only
            return buf
        end = buf.find(EOL)
        if end < 0:
            if len(buf) > 200:  # a banner is one short line
                self._started = True
                return buf
            self._tail = buf
            return None
        self.banner = buf[:end].decode("utf-8", "replace")
        self._started = True
        self._tail = b""
        return buf[end + 2 :]

    @property
    def pending(self) -> int:
        """Bytes waiting for the end of their frame."""
        return len(self._tail)


def _resplit(frames: list[bytes]) -> list[bytes]:
    """Cut frames glued to a truncated one (a lost separator) where the next one starts.

    A frame never holds a second ``Event:`` header, so finding one, at a line
    start or inside a value (``Channel: PJSIP/truEvent: Hangup``, the tail of a
    truncated line), means the bytes before it are a truncated frame (returned
    as they are; handlers find it incomplete) followed by a whole one; so does
    ``Response:`` inside a value. ``Response:`` as a header of its own is
    legitimate (OriginateResponse), and so is ``UserEvent: x``.
    """
    out: list[bytes] = []
    for frame in frames:
        if frame.find(b"Event: ", 7) >= 0 or frame.find(b"Response: ", 10) >= 0:
            out.extend(_cut(frame))
        else:
            out.append(frame)
    return out


def _starts(frame: bytes) -> list[int]:
    """Where frames begin inside ``frame`` (beyond its start)."""
    cuts: list[int] = []
    for marker, at_line_start in ((b"Event: ", True), (b"Response: ", False)):
        i = frame.find(marker, 1)
        while i >= 0:
            line_start = frame.rfind(b"\n", 0, i) + 1
            if (at_line_start and line_start == i) or (
                line_start != i and frame.find(b": ", line_start, i) >= 0
            ):
                cuts.append(i)
            i = frame.find(marker, i + len(marker))
    return sorted(set(cuts))


def _cut(frame: bytes) -> Iterable[bytes]:
    start = 0
    for cut in _starts(frame):
        piece = frame[start:cut].rstrip(b"\r\n")
        if piece.strip():
            yield piece
        start = cut
    piece = frame[start:]
    if piece.strip():
        yield piece


def decode(frame: bytes) -> str:
    """The frame as text: UTF-8, or Latin-1 for the rare trunk that sends it (logged)."""
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("AMI: a frame is not UTF-8, read as Latin-1: %r", frame[:120])
        return frame.decode("latin-1")


def parse(text: str) -> Headers:
    """``Key: Value`` lines to a dict; a repeated key gives a list. Bad lines are skipped."""
    headers: Headers = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):
                key, value = line[:-1], ""
            else:
                continue
        old = headers.get(key)
        if old is None:
            headers[key] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            headers[key] = [old, value]
    return headers
