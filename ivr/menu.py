"""IVR menus described in YAML: prompts, languages, the DTMF tree of domains and processes.

A menu file is refused as a whole with every problem found, each with the
file, the place in it and the reason (``MenuError``); process codes are
checked against the catalogue when one is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.feature_codes import AgentCodes, parse_agent_codes
from skills.model import Catalogue

DEFAULT_MENU = Path(__file__).resolve().parent / "menus" / "default.yaml"
GENERALIST = "generalist"
"""A choice that sends the call to the generalist route (no process: triage)."""
KEYS = frozenset("0123456789*#")
PROMPT_NAMES = (
    "welcome",
    "invalid",
    "generalist",
    "known_citizen",
    "repeat_caller",
    "wait_intro",
    "minutes",
    "wait_short",
    "no_agent",
    "callback_offer",
    "callback_confirmed",
    "hold",
)
AGENT_PROMPTS: dict[str, str] = {
    "agent_ready": "guichet/agent-pret",
    "agent_paused": "guichet/agent-en-pause",
    "agent_logged_out": "guichet/agent-deconnecte",
    "agent_reason": "guichet/agent-motif",
    "agent_refused": "guichet/agent-refuse",
    "agent_unknown": "guichet/agent-inconnu",
    "agent_bad_code": "guichet/agent-code-inconnu",
}
"""The feature codes' spoken confirmations, with their default sound files (optional in a menu file)."""


class MenuError(ValueError):
    """The menu file cannot be used; one problem per line, each naming the file."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


@dataclass(frozen=True, slots=True)
class Prompt:
    """One sound file for every language, or one per language."""

    default: str
    by_language: Mapping[str, str] = field(default_factory=dict)

    def file(self, language: str) -> str:
        return self.by_language.get(language, self.default)


@dataclass(frozen=True, slots=True)
class Menu:
    """One level of choices: a prompt, then key -> process code, GENERALIST or a sub-menu."""

    prompt: Prompt
    choices: Mapping[str, str | Menu]
    label: str = ""


@dataclass(frozen=True, slots=True)
class IvrConfig:
    languages: tuple[str, ...]
    language_keys: Mapping[str, str]
    digit_timeout_ms: int
    retries: int
    repeat_caller_days: float
    announce_wait: bool
    callback_above_s: float | None
    callback_key: str
    prompts: Mapping[str, Prompt]
    menu: Menu
    agents: AgentCodes = field(default_factory=lambda: AgentCodes())
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Sound file -> language -> what it says (what ``guichet ivr prompts`` speaks)."""

    @property
    def language(self) -> str:
        return self.languages[0]

    def prompt(self, name: str, language: str) -> str:
        return self.prompts[name].file(language)

    def sounds(self) -> dict[str, set[str]]:
        """Every sound file the menus and the feature codes name -> the languages it is played in."""
        found: dict[str, set[str]] = {}

        def add(prompt: Prompt) -> None:
            for language in self.languages:
                found.setdefault(prompt.file(language), set()).add(language)

        for prompt in self.prompts.values():
            add(prompt)
        stack = [self.menu]
        while stack:
            menu = stack.pop()
            add(menu.prompt)
            stack.extend(c for c in menu.choices.values() if isinstance(c, Menu))
        return found

    def processes(self) -> set[str]:
        """Every process code the menu can hand over."""
        found: set[str] = set()
        stack = [self.menu]
        while stack:
            menu = stack.pop()
            for choice in menu.choices.values():
                if isinstance(choice, Menu):
                    stack.append(choice)
                elif choice != GENERALIST:
                    found.add(choice)
        return found


def load_menu(path: str | Path | None = None, catalogue: Catalogue | None = None) -> IvrConfig:
    """The menu file at ``path`` (default: the bundled sample), checked; MenuError if bad."""
    p = Path(path) if path is not None else DEFAULT_MENU
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MenuError(str(p), ["file not found"]) from None
    except UnicodeDecodeError as exc:
        raise MenuError(str(p), [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    return parse_menu(text, str(p), catalogue)


def parse_menu(
    text: str, source: str = "menu.yaml", catalogue: Catalogue | None = None
) -> IvrConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise MenuError(
            source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MenuError(source, ["expected a mapping at the top (languages, prompts, menu...)"])
    known = {
        "version",
        "languages",
        "language_keys",
        "digit_timeout_ms",
        "retries",
        "repeat_caller_days",
        "wait",
        "prompts",
        "menu",
        "agents",
        "texts",
    }
    for key in data:
        if key not in known:
            problems.append(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
    languages = data.get("languages") or ["fr"]
    if not isinstance(languages, list) or not all(isinstance(x, str) and x for x in languages):
        problems.append("languages: expected a list of language codes, e.g. [fr, en]")
        languages = ["fr"]
    language_keys = {str(k): str(v) for k, v in (data.get("language_keys") or {}).items()}
    for key, lang in language_keys.items():
        if key not in KEYS:
            problems.append(f"language_keys: {key!r} is not a phone key")
        if lang not in languages:
            problems.append(f"language_keys: {lang!r} is not in languages")
    timeout = _number(data, "digit_timeout_ms", 5000, problems, minimum=500)
    retries = _number(data, "retries", 2, problems, minimum=0)
    repeat_days = _number(data, "repeat_caller_days", 7, problems, minimum=0)
    wait = data.get("wait") or {}
    if not isinstance(wait, dict):
        problems.append("wait: expected a mapping")
        wait = {}
    callback_above = wait.get("callback_above_s", 300)
    if callback_above is not None and not isinstance(callback_above, (int, float)):
        problems.append("wait.callback_above_s: expected seconds or null")
        callback_above = None
    callback_key = str(wait.get("callback_key", "1"))
    if callback_key not in KEYS:
        problems.append(f"wait.callback_key: {callback_key!r} is not a phone key")
    prompts_raw = data.get("prompts") or {}
    prompts: dict[str, Prompt] = {}
    if not isinstance(prompts_raw, dict):
        problems.append("prompts: expected a mapping of prompt name -> sound file")
        prompts_raw = {}
    for name in PROMPT_NAMES:
        if name not in prompts_raw:
            problems.append(f"prompts.{name}: missing")
    for name, default in AGENT_PROMPTS.items():
        prompts[name] = Prompt(default)
    for name, value in prompts_raw.items():
        if name not in PROMPT_NAMES and name not in AGENT_PROMPTS:
            names = ", ".join((*PROMPT_NAMES, *AGENT_PROMPTS))
            problems.append(f"prompts.{name}: unknown prompt (known: {names})")
            continue
        prompt = _prompt(value, f"prompts.{name}", languages, problems)
        if prompt is not None:
            prompts[name] = prompt
    menu = _menu(data.get("menu"), "menu", languages, catalogue, problems)
    agents = parse_agent_codes(data.get("agents"), problems)
    texts = _texts(data.get("texts"), languages, problems)
    if problems:
        raise MenuError(source, problems)
    assert menu is not None
    return IvrConfig(
        languages=tuple(languages),
        language_keys=language_keys,
        digit_timeout_ms=int(timeout),
        retries=int(retries),
        repeat_caller_days=float(repeat_days),
        announce_wait=bool(wait.get("announce", True)),
        callback_above_s=None if callback_above is None else float(callback_above),
        callback_key=callback_key,
        prompts=prompts,
        menu=menu,
        agents=agents,
        texts=texts,
    )


def _texts(value: Any, languages: list[str], problems: list[str]) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("texts: expected a mapping of sound file -> {language: text}")
        return {}
    texts: dict[str, dict[str, str]] = {}
    for sound, by_language in value.items():
        where = f"texts.{sound}"
        if not isinstance(sound, str) or not _is_sound(sound):
            problems.append(f"{where}: not a sound file name")
            continue
        if not isinstance(by_language, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in by_language.items()
        ):
            problems.append(f"{where}: expected {{language: text}}, e.g. {{fr: Bonjour, en: Hello}}")
            continue
        unknown = [k for k in by_language if k not in languages]
        if unknown:
            problems.append(f"{where}: language {unknown[0]!r} is not in languages")
        texts[sound] = {k: v.strip() for k, v in by_language.items()}
    return texts


def _number(
    data: dict[str, Any], key: str, default: float, problems: list[str], minimum: float
) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        problems.append(f"{key}: expected a number >= {minimum:g}, got {value!r}")
        return default
    return value


def _prompt(value: Any, where: str, languages: list[str], problems: list[str]) -> Prompt | None:
    if isinstance(value, str) and _is_sound(value):
        return Prompt(value)
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(v, str) and _is_sound(v) for v in value.values())
    ):
        unknown = [k for k in value if k not in languages]
        if unknown:
            problems.append(f"{where}: language {unknown[0]!r} is not in languages")
        first = value.get(languages[0]) or next(iter(value.values()))
        return Prompt(first, {str(k): v for k, v in value.items()})
    problems.append(
        f"{where}: expected a sound file name (e.g. guichet/bienvenue) or one per language"
    )
    return None


def _is_sound(name: str) -> bool:
    """A sound file name Asterisk can play: no spaces, quotes or extension games."""
    return bool(name) and not any(c in name for c in " \t\"'\n") and not name.startswith("/..")


def _menu(
    value: Any, where: str, languages: list[str], catalogue: Catalogue | None, problems: list[str]
) -> Menu | None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping with 'prompt' and 'choices'")
        return None
    prompt = _prompt(value.get("prompt"), f"{where}.prompt", languages, problems)
    raw = value.get("choices")
    if not isinstance(raw, dict) or not raw:
        problems.append(
            f"{where}.choices: expected a mapping of key -> process, 'generalist' or a sub-menu"
        )
        return None
    choices: dict[str, str | Menu] = {}
    for key, choice in raw.items():
        key = str(key)
        here = f"{where}.choices.{key}"
        if key not in KEYS:
            problems.append(f"{here}: {key!r} is not a phone key (0-9, * or #)")
            continue
        if isinstance(choice, dict):
            sub = _menu(choice, here, languages, catalogue, problems)
            if sub is not None:
                choices[key] = sub
        elif isinstance(choice, str):
            if choice != GENERALIST and catalogue is not None and choice not in catalogue.processes:
                problems.append(f"{here}: unknown process {choice!r}")
            choices[key] = choice
        else:
            problems.append(f"{here}: expected a process code, 'generalist' or a sub-menu")
    if prompt is None:
        return None
    return Menu(prompt, choices, str(value.get("label", "")))
