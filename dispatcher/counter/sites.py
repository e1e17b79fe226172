"""The sites file (YAML): each building's kiosks, counters and displays, and the counter rules.

Validated like the catalogue: every problem with the file, the line and the
reason (``skills.errors.SkillFileError``). The format is in docs/counter.md.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node

from dispatcher.i18n import msg
from dispatcher.policy import RoutingPolicy
from skills._files import Doc, Entry, compose, load_text
from skills.catalogue import parse_duration
from skills.errors import Problems
from skills.model import Catalogue, Channel, SkillMatrix

DEVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LETTER_RE = re.compile(r"^[A-Z]$")


@dataclass(frozen=True, slots=True)
class PriorityClass:
    """A class of visitors served earlier (disability, pregnancy...), by a bounded advance."""

    code: str
    label: str
    label_en: str
    advance_s: float

    def arrival(self, issued_at: float) -> float:
        """The arrival the queue orders the ticket by: ``advance_s`` earlier, never more.

        A later regular ticket can be passed only by priority tickets issued
        within ``advance_s`` after it: its wait stays bounded however many come.
        """
        return issued_at - self.advance_s


@dataclass(frozen=True, slots=True)
class Site:
    """One building: its kiosks, displays and counters (name -> channels served there)."""

    code: str
    label: str
    kiosks: tuple[str, ...]
    displays: tuple[str, ...]
    counters: dict[str, frozenset[Channel]]


@dataclass(frozen=True, slots=True)
class CounterRules:
    """K recalls over T seconds before a no-show; N seconds before an agent is away."""

    recalls: int = 2
    no_show_after_s: float = 120.0
    agent_away_after_s: float = 45.0


@dataclass(frozen=True, slots=True)
class Sites:
    """Every site of the town, the domains' ticket letters and the priority classes."""

    sites: dict[str, Site]
    letters: dict[str, str]
    priority_classes: dict[str, PriorityClass]
    rules: CounterRules
    timezone: str = "Europe/Paris"

    def device(self, device_id: str) -> tuple[str, str] | None:
        """(``kiosk`` or ``display``, site code) of a device id."""
        for site in self.sites.values():
            if device_id in site.kiosks:
                return "kiosk", site.code
            if device_id in site.displays:
                return "display", site.code
        return None

    def counter_site(self, counter: str) -> Site | None:
        for site in self.sites.values():
            if counter in site.counters:
                return site
        return None


class _Reader:
    def __init__(self, path: str, catalogue: Catalogue | None) -> None:
        self.problems = Problems(path)
        self.doc = Doc(self.problems)
        self.catalogue = catalogue

    def duration(self, entry: Entry, what: str) -> float | None:
        raw = self.doc.text(entry.node, what)
        value = parse_duration(raw) if raw is not None else None
        if value is None:
            self.doc.error(entry.node, msg("{what}: expected a duration (45s, 2m, 1h30m), got {raw!r}").format(what=what, raw=raw))
        return value

    def rules(self, node: Node) -> CounterRules:
        entries = self.doc.mapping(node, "counter") or {}
        self.doc.check_keys(entries, ("recalls", "no_show_after", "agent_away_after"), "counter")
        recalls, no_show, away = 2, 120.0, 45.0
        if "recalls" in entries:
            raw = self.doc.text(entries["recalls"].node, "counter, recalls") or ""
            if raw.isdigit() and 0 <= int(raw) <= 10:
                recalls = int(raw)
            else:
                self.doc.error(entries["recalls"].node, msg("counter, recalls: expected 0 to 10, got {raw!r}").format(raw=raw))
        if "no_show_after" in entries:
            no_show = self.duration(entries["no_show_after"], "counter, no_show_after") or no_show
        if "agent_away_after" in entries:
            away = self.duration(entries["agent_away_after"], "counter, agent_away_after") or away
        return CounterRules(recalls, no_show, away)

    def letters(self, node: Node) -> dict[str, str]:
        found: dict[str, str] = {}
        used: dict[str, str] = {}
        entries = self.doc.mapping(node, "letters") or {}
        for key, entry in entries.items():
            letter = (self.doc.text(entry.node, f"letters, {key}") or "").strip()
            if self.catalogue is not None and key not in self.catalogue.domains:
                self.doc.error(entry.key_node, msg("letters: unknown domain '{key}'").format(key=key))
            elif not LETTER_RE.match(letter):
                self.doc.error(entry.node, msg("letters, {key}: expected one capital letter, got {letter!r}").format(key=key, letter=letter))
            elif letter in used:
                self.doc.error(entry.node, msg("letters, {key}: letter {letter} already given to {domain}").format(key=key, letter=letter, domain=used[letter]))
            else:
                used[letter] = key
                found[key] = letter
        if self.catalogue is not None:
            missing = [d for d in self.catalogue.domains if d not in entries]
            if missing:
                self.doc.error(node, msg("letters: no ticket letter for the domains {domains}").format(domains=', '.join(missing)))
        return found

    def priority_classes(self, node: Node) -> dict[str, PriorityClass]:
        found: dict[str, PriorityClass] = {}
        for key, entry in (self.doc.mapping(node, "priority_classes") or {}).items():
            what = f"priority class {key}"
            fields = self.doc.mapping(entry.node, what) or {}
            self.doc.check_keys(fields, ("label", "label_en", "advance"), what)
            label = self.doc.required_text(fields, "label", what, entry.key_node)
            label_en = self.doc.required_text(fields, "label_en", what, entry.key_node)
            advance = self.duration(fields["advance"], f"{what}, advance") if "advance" in fields else None
            if "advance" not in fields:
                self.doc.error(entry.key_node, msg("{what}: missing required field 'advance' (the bounded move up)").format(what=what))
            elif advance is not None and not 0 < advance <= 3600:
                self.doc.error(fields["advance"].node, msg("{what}, advance: between 1s and 1h, got {advance:g}s").format(what=what, advance=advance))
                advance = None
            if label and label_en and advance:
                found[key] = PriorityClass(key, label, label_en, advance)
        return found

    def devices(self, entry: Entry | None, what: str, seen: dict[str, str]) -> tuple[str, ...]:
        if entry is None:
            return ()
        found: list[str] = []
        for item in self.doc.sequence(entry.node, what) or []:
            name = (self.doc.text(item, what) or "").strip()
            if not DEVICE_RE.match(name):
                self.doc.error(item, msg("{what}: bad device id {name!r} (lower-case letters, digits, - and _)").format(what=what, name=name))
            elif name in seen:
                self.doc.error(item, msg("{what}: device {name} already listed ({first})").format(what=what, name=name, first=seen[name]))
            else:
                seen[name] = what
                found.append(name)
        return tuple(found)

    def site(self, code: str, entry: Entry, seen: dict[str, str]) -> Site | None:
        what = f"site {code}"
        fields = self.doc.mapping(entry.node, what) or {}
        self.doc.check_keys(fields, ("label", "kiosks", "displays", "counters"), what)
        label = self.doc.required_text(fields, "label", what, entry.key_node)
        kiosks = self.devices(fields.get("kiosks"), f"{what}, kiosks", seen)
        displays = self.devices(fields.get("displays"), f"{what}, displays", seen)
        counters: dict[str, frozenset[Channel]] = {}
        if "counters" not in fields:
            self.doc.error(entry.key_node, msg("{what}: missing required field 'counters'").format(what=what))
        else:
            for name, desk in (self.doc.mapping(fields["counters"].node, f"{what}, counters") or {}).items():
                if name in seen:
                    self.doc.error(desk.key_node, msg("{what}: counter '{name}' already listed ({first})").format(what=what, name=name, first=seen[name]))
                    continue
                seen[name] = what
                channels = self.doc.channels(desk.node, f"{what}, {name}")
                if channels is not None:
                    served = frozenset(c for c, _ in channels)
                    if Channel.COUNTER not in served:
                        self.doc.error(desk.node, msg("{what}, {name}: a counter serves the 'counter' channel").format(what=what, name=name))
                    counters[name] = served
        if label is None:
            return None
        return Site(code, label, kiosks, displays, counters)


def parse_sites(text: str, path: str = "<sites>", catalogue: Catalogue | None = None) -> Sites:
    """The sites of a YAML text; SkillFileError with every problem (file, line, reason)."""
    reader = _Reader(path, catalogue)
    doc = reader.doc
    root = compose(text, reader.problems)
    entries = doc.mapping(root, "sites file") if root is not None else None
    reader.problems.raise_if_any()
    assert entries is not None
    doc.check_keys(entries, ("version", "timezone", "counter", "letters", "priority_classes", "sites"), "sites file")
    version = doc.text(entries["version"].node, "version") if "version" in entries else None
    if version != "1":
        doc.error(entries["version"].node if "version" in entries else root, msg("version: expected 1, got {version!r}").format(version=version))
    timezone = "Europe/Paris"
    if "timezone" in entries:
        timezone = (doc.text(entries["timezone"].node, "timezone") or "").strip()
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            doc.error(entries["timezone"].node, msg("timezone: unknown time zone {timezone!r}").format(timezone=timezone))
    rules = reader.rules(entries["counter"].node) if "counter" in entries else CounterRules()
    letters = reader.letters(entries["letters"].node) if "letters" in entries else {}
    if "letters" not in entries:
        doc.error(root, msg("missing required field 'letters' (the ticket letter of each domain)"))
    classes = reader.priority_classes(entries["priority_classes"].node) if "priority_classes" in entries else {}
    sites: dict[str, Site] = {}
    seen: dict[str, str] = {}
    if "sites" not in entries:
        doc.error(root, msg("missing required field 'sites'"))
    else:
        for code, entry in (doc.mapping(entries["sites"].node, "sites") or {}).items():
            if not DEVICE_RE.match(code):
                doc.error(entry.key_node, msg("sites: bad site code {code!r}").format(code=code))
                continue
            site = reader.site(code, entry, seen)
            if site is not None:
                sites[code] = site
    reader.problems.raise_if_any()
    return Sites(sites, letters, classes, rules, timezone)


def load_sites(path: str | Path, catalogue: Catalogue | None = None) -> Sites:
    """The sites file at ``path``, checked against the catalogue's domains when given."""
    return parse_sites(load_text(path), str(path), catalogue)


def default_sites_path() -> str:
    return str(resources.files("dispatcher.counter") / "data" / "sites.yaml")


def default_sites(catalogue: Catalogue | None = None) -> Sites:
    """The bundled sample: the town hall and one annexe."""
    return load_sites(default_sites_path(), catalogue)


def seated(matrix: SkillMatrix, sites: Sites) -> SkillMatrix:
    """The matrix with each agent whose desk is a counter placed at that counter's site."""
    agents = {}
    for agent_id, profile in matrix.agents.items():
        site = sites.counter_site(profile.desk) if profile.desk else None
        agents[agent_id] = dataclasses.replace(profile, site=site.code) if site is not None else profile
    return dataclasses.replace(matrix, agents=agents)


def counter_policy(policy: RoutingPolicy, sites: Sites) -> RoutingPolicy:
    """The policy with the sites' agent-away delay as the counter's offer timeout (unless set)."""
    if policy.offer_timeout_s.get(Channel.COUNTER) is not None:
        return policy
    timeouts = {**policy.offer_timeout_s, Channel.COUNTER: sites.rules.agent_away_after_s}
    return dataclasses.replace(policy, offer_timeout_s=timeouts)

