"""The sound files the fake Asterisk has (what makes a prompt play or fail, as in the captures)."""

from __future__ import annotations

import contextlib
import wave
from collections.abc import Iterable
from pathlib import Path

SOUND_EXTENSIONS = ("wav", "WAV", "sln16", "sln", "gsm", "ulaw", "alaw", "g722", "sln8")
CORE_SOUNDS: dict[str, int] = {"beep": 3520, "silence/1": 8000, "silence/2": 16000, "silence/5": 40000}
"""Asterisk's core sounds the captures play, with their length in 8 kHz samples (STREAM FILE's
``endpos``); the ``digits/`` files of SAY NUMBER are core sounds too."""


class SoundLibrary:
    """Which sound files the PBX has: Asterisk's core sounds, plus the files under ``root``.

    ``root`` is laid out like Asterisk's sounds directory (``<root>/fr/guichet/bienvenue.wav``);
    a file is found in the channel's language, else in ``en``, else without a language.
    ``root=None``: every file exists (a PBX with every prompt installed).
    """

    def __init__(self, root: str | Path | None = None, extra: Iterable[str] = ()) -> None:
        self.root = Path(root) if root is not None else None
        self.extra = frozenset(extra)

    def has(self, name: str, language: str) -> bool:
        if self.root is None or name in CORE_SOUNDS or name in self.extra or name.startswith("digits/"):
            return True
        for folder in (language, "en", ""):
            base = self.root / folder / name if folder else self.root / name
            if any(base.with_name(f"{base.name}.{ext}").is_file() for ext in SOUND_EXTENSIONS):
                return True
        return False

    def endpos(self, name: str, language: str) -> int:
        """The ``endpos`` of a STREAM FILE played to its end (samples at 8 kHz)."""
        if name in CORE_SOUNDS:
            return CORE_SOUNDS[name]
        if self.root is not None:
            for folder in (language, "en", ""):
                path = (self.root / folder / name if folder else self.root / name).with_suffix(".wav")
                if path.is_file():
                    with contextlib.suppress(wave.Error, OSError, EOFError):
                        with wave.open(str(path)) as w:
                            return w.getnframes() * 8000 // max(1, w.getframerate())
        return 8000
