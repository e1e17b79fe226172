"""The IVR's spoken prompts, made from the menu file's texts with a TTS engine from Debian.

``generate`` speaks each text of the menu file (section ``texts``) with
espeak-ng (Debian package ``espeak-ng``) and converts it with sox (``sox``)
to what Asterisk plays natively without transcoding: 8 kHz, 16-bit, mono
WAV, written as ``<out>/<language>/<sound>.wav`` (the layout of Asterisk's
sounds directory: ``sounds/fr/guichet/bienvenue.wav``). The same texts, the
same espeak-ng and sox versions give the same files (no dither, fixed
voice, rate and pitch). ``guichet ivr prompts`` runs it; ``missing`` says
which sounds a sounds directory lacks (``guichet serve`` checks at start).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ivr.menu import IvrConfig

SOUNDS_DIR = Path(__file__).resolve().parent / "sounds"
"""The prompts shipped with Guichet (French and English), for the bundled menu file."""
VOICES = {"fr": "fr-fr", "en": "en-gb"}
"""espeak-ng voice per menu language (another language uses its own code as voice)."""
SPEED_WPM = 165
PITCH = 45
TRIM = ("silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse", "pad", "0.1", "0.2")
"""sox effects: no silence before or after the voice but 0.1 s and 0.2 s (smaller files, snappier menus)."""
EXTENSIONS = ("wav", "sln16", "sln", "gsm", "ulaw", "alaw", "g722")
"""Formats Asterisk plays; any of them counts as the prompt being installed."""


class PromptError(RuntimeError):
    """The prompts cannot be made; the message says what to install or fix."""


@dataclass(frozen=True, slots=True)
class Made:
    sound: str
    language: str
    path: Path
    seconds: float


def missing(config: IvrConfig, sounds_dir: Path) -> list[tuple[str, str]]:
    """(sound, language) pairs the menus and feature codes name that ``sounds_dir`` lacks."""
    out = []
    for sound, languages in sorted(config.sounds().items()):
        for language in sorted(languages):
            base = sounds_dir / language / sound
            if not any(base.with_name(f"{base.name}.{ext}").is_file() for ext in EXTENSIONS):
                out.append((sound, language))
    return out


def untexted(config: IvrConfig) -> list[tuple[str, str]]:
    """(sound, language) pairs with no text to speak in the menu file."""
    return [
        (sound, language)
        for sound, languages in sorted(config.sounds().items())
        for language in sorted(languages)
        if language not in config.texts.get(sound, {})
    ]


def tools() -> tuple[str, str]:
    """The espeak-ng and sox executables; PromptError naming the Debian packages if absent."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        lacking = " and ".join(n for n, p in (("espeak-ng", espeak), ("sox", sox)) if p is None)
        raise PromptError(f"{lacking} not found: apt-get install espeak-ng sox")
    return espeak, sox


def generate(config: IvrConfig, out_dir: Path = SOUNDS_DIR) -> list[Made]:
    """Speak every prompt of ``config`` into ``out_dir``; the files made, in order."""
    lacking = untexted(config)
    if lacking:
        named = ", ".join(f"{s} ({lang})" for s, lang in lacking)
        raise PromptError(f"no text in the menu file's 'texts' section for: {named}")
    espeak, sox = tools()
    made: list[Made] = []
    with tempfile.TemporaryDirectory(prefix="guichet-prompts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        for sound, languages in sorted(config.sounds().items()):
            for language in sorted(languages):
                text = config.texts[sound][language]
                target = out_dir / language / f"{sound}.wav"
                target.parent.mkdir(parents=True, exist_ok=True)
                voice = VOICES.get(language, language)
                _run([espeak, "-v", voice, "-s", str(SPEED_WPM), "-p", str(PITCH), "-w", str(raw), text])
                _run([sox, "-D", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target), *TRIM])
                made.append(Made(sound, language, target, _seconds(target)))
    return made


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PromptError(f"{Path(command[0]).name} failed: {detail[-1] if detail else exc}") from None
    except subprocess.TimeoutExpired:
        raise PromptError(f"{Path(command[0]).name} took more than 60 s") from None


def _seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()
