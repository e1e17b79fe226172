"""A ticket as printable text for 58/80 mm thermal printers, and as ESC/POS bytes."""

from __future__ import annotations

import textwrap
import unicodedata
from dataclasses import dataclass

COLUMNS = {58: 32, 80: 48}
"""Characters per line of font A."""

ESC, GS = b"\x1b", b"\x1d"
INIT = ESC + b"@"
CENTER = ESC + b"a\x01"
LEFT = ESC + b"a\x00"
BIG = GS + b"!\x11"
NORMAL = GS + b"!\x00"
BOLD_ON, BOLD_OFF = ESC + b"E\x01", ESC + b"E\x00"
CODEPAGE_1252 = ESC + b"t\x10"
CUT = GS + b"V\x42\x00"


@dataclass(frozen=True, slots=True)
class TicketPrint:
    """What a printed ticket says."""

    ticket: str
    site_label: str
    process_label: str
    position: int
    wait_text: str
    issued_text: str


def _lines(ticket: TicketPrint, width: int) -> tuple[list[str], list[str]]:
    head = textwrap.wrap(ticket.site_label, width)
    paragraphs = [
        ticket.process_label,
        f"Position : {ticket.position}",
        f"Attente estimée : {ticket.wait_text}",
        ticket.issued_text,
    ]
    return head, [line for text in paragraphs for line in textwrap.wrap(text, width)]


def text(ticket: TicketPrint, paper_mm: int = 80) -> str:
    """Plain text lines fitting the paper (58 or 80 mm)."""
    width = COLUMNS[paper_mm]
    head, body = _lines(ticket, width)
    number = " ".join(ticket.ticket).center(width).rstrip()
    return "\n".join([*(line.center(width).rstrip() for line in head), "-" * width, number, "-" * width, *body, ""])


def escpos(ticket: TicketPrint, paper_mm: int = 80) -> bytes:
    """ESC/POS bytes: centred big number, code page 1252 (French accents), cut."""
    width = COLUMNS[paper_mm]
    head, body = _lines(ticket, width)

    def enc(line: str) -> bytes:
        return unicodedata.normalize("NFC", line).encode("cp1252", errors="replace") + b"\n"

    out = [INIT, CODEPAGE_1252, CENTER, *map(enc, head), BIG, BOLD_ON, enc(ticket.ticket), NORMAL, BOLD_OFF, LEFT]
    out += [enc(line) for line in body]
    out += [b"\n\n\n", CUT]
    return b"".join(out)
