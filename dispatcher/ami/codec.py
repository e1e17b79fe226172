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
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

EOL = b"\r\n"
SEP = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
MAX_BINARY_BYTES = 1 << 20
"""Bytes that are not text (control bytes, NUL) pending without a frame end: dropped past this."""
MAX_FRAME_BYTES = 10 << 20
"""Any bytes pending without a frame end: dropped past this (no AMI frame is that long)."""
MARKERS = (b"Event: ", b"Response: ")
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Headers = dict[str, "str | list[str]"]


class FrameReader:
    """Cuts an AMI byte stream into whole frames, whatever the TCP reads.

    ``feed(data)`` returns the frames completed by ``data`` (bytes, without
    their separator); an incomplete tail waits for the next read. The banner
    line, when the stream starts with one, is kept in ``banner``.

    Every buffer is bounded: past ``max_binary`` pending bytes holding binary
    (or ``max_frame`` of any bytes) without a frame end, the pending bytes are
    dropped (``dropped_bytes``, ``overflows``) and the reader skips to the next
    frame start (``Event:`` / ``Response:``) or separator, so the next valid
    frame is not lost.
    """

    __slots__ = (
        "_binary",
        "_parts",
        "_pending",
        "_skipping",
        "_started",
        "banner",
        "dropped_bytes",
        "max_binary",
        "max_frame",
        "overflows",
    )

    def __init__(
        self, max_frame: int = MAX_FRAME_BYTES, max_binary: int = MAX_BINARY_BYTES
    ) -> None:
        self._parts: list[bytes] = []
        self._pending = 0
        self._binary = False
        self._skipping = b""
        self._started = False
        self.banner: str | None = None
        self.max_frame = max_frame
        self.max_binary = min(max_binary, max_frame)
        self.dropped_bytes = 0
        self.overflows = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The whole frames that ``data`` completes, in order."""
        if self._skipping:
            data = self._skip(data)
            if not data:
                return []
        if not self._started:
            buf = b"".join([*self._parts, data]) if self._parts else data
            self._parts, self._pending = [], 0
            rest = self._take_banner(buf)
            if rest is None:
                return []
            data = rest
        if self._parts:
            edge = b"".join(self._parts[-3:])[-3:] + data[:3]
            if SEP not in edge and SEP not in data:
                return self._hold(data)
            buf = b"".join([*self._parts, data])
            self._parts, self._pending, self._binary = [], 0, False
        elif SEP not in data:
            return self._hold(data)
        else:
            buf = data
        frames = buf.split(SEP)
        tail = frames.pop()
        out = _resplit(frames) if frames else frames
        if tail:
            out += self._hold(tail)
        return out

    def _hold(self, data: bytes) -> list[bytes]:
        """Keep ``data`` for the next read, unless the pending bytes grew past the bounds."""
        if not data:
            return []
        self._parts.append(data)
        self._pending += len(data)
        if self._pending <= self.max_binary:
            return []
        if not self._binary:
            self._binary = _BINARY.search(data) is not None or (
                len(self._parts) > 1 and _BINARY.search(self._parts[0]) is not None
            )
        if self._pending <= (self.max_binary if self._binary else self.max_frame):
            return []
        # Too much without a frame end: not AMI. Keep a frame that starts in the last read.
        start = max(data.rfind(marker) for marker in MARKERS)
        if start >= 0 and len(data) - start > self.max_binary:
            start = -1
        kept = data[start:] if start >= 0 else b""
        self.dropped_bytes += self._pending - len(kept)
        self.overflows += 1
        if self.overflows == 1 or self.overflows % 100 == 0:
            log.warning(
                "AMI: %d%s bytes without a frame end (%d times on this link); dropped,"
                " reading on from the next frame",
                self._pending - len(kept),
                " binary" if self._binary else "",
                self.overflows,
            )
        self._parts, self._pending, self._binary = [], 0, False
        if start < 0:
            self._skipping = data[-12:] or b" "
            return []
        return self._hold(kept)

    def _skip(self, data: bytes) -> bytes:
        """In skip mode: the bytes from the next frame start or separator on (b"" if none yet)."""
        window = self._skipping + data
        offset = len(self._skipping)
        found = [(i, len(SEP)) for i in [window.find(SEP)] if i >= 0]
        found += [(i, 0) for marker in MARKERS for i in [window.find(marker)] if i >= 0]
        if not found:
            self.dropped_bytes += len(data)
            self._skipping = window[-12:]
            return b""
        at, width = min(found)
        self._skipping = b""
        resume = at + width
        self.dropped_bytes += max(0, resume - offset)
        return window[max(resume, 0) :] if resume >= offset else window[resume:]

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
            self._parts, self._pending = [buf], len(buf)
            return None
        self.banner = buf[:end].decode("utf-8", "replace")
        self._started = True
        return buf[end + 2 :]

    @property
    def pending(self) -> int:
        """Bytes waiting for the end of their frame."""
        return self._pending


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
        if not frame.startswith(MARKERS):
            # Junk before a frame (binary garbage, a truncated line): cut at the first frame start.
            found = [i for marker in MARKERS for i in [frame.find(marker)] if i > 0]
            if found:
                out.append(frame[: min(found)])
                frame = frame[min(found) :]
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


_latin1_frames = 0


def decode(frame: bytes) -> str:
    """The frame as text: UTF-8, or Latin-1 for the rare trunk that sends it (logged)."""
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        global _latin1_frames
        _latin1_frames += 1
        if _latin1_frames == 1 or _latin1_frames % 1000 == 0:
            log.warning(
                "AMI: a frame is not UTF-8, read as Latin-1 (%d so far): %r",
                _latin1_frames,
                frame[:120],
            )
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
