"""The process catalogue file (YAML) and its loader.

The format is described in ``docs/skills.md``; in short::

    version: 1
    triage: triage                      # the generalist process (default: triage)
    defaults:                           # for every process
      min_level: 2
      targets:
        phone:   {handling: 4m, sla: 20s, sla_percent: 80, overflow: 45s}
        counter: {handling: 8m, sla: 10m, sla_percent: 80, overflow: 6m}
        ...
    domains:
      etat_civil:
        label: État civil et titres d'identité
        defaults: {targets: {counter: {handling: 10m}}}   # for the domain's processes
      voirie: Voirie et propreté                          # a label alone
    processes:
      - code: passport
        label: Passeport
        domain: etat_civil
        channels: [phone, counter, callback, email, webform]   # default: every channel
        targets: {counter: {handling: 20m}}                    # per-process overrides
        sheet: etat-civil/passeport
    sheets:                             # the knowledge sheets the processes name
      etat-civil/passeport:
        title: Passeport
        pieces: [Pré-demande ANTS, Photo d'identité de moins de 6 mois]
        steps: [Vérifier les pièces, Relever les empreintes]
        delay: 2 à 4 semaines après le rendez-vous
        link: https://www.service-public.fr/particuliers/vosdroits/N360
        en: {title: Passport, pieces: [...], steps: [...], delay: ...}   # optional

A target field is looked up in the process, then its domain's defaults, then
the catalogue's defaults. Durations are seconds or ``20s``, ``10m``, ``48h``,
``3d``, ``1h30m``; ``sla_percent`` is a percentage (``80`` or ``"80%"``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from yaml.nodes import MappingNode, Node

from skills._files import (
    SLUG_RE,
    Doc,
    Entry,
    channel_hint,
    compose,
    decode,
    load_text,
    parse_level,
)
from skills.errors import Problems, did_you_mean
from skills.model import (
    ALL_CHANNELS,
    COMPETENT,
    Catalogue,
    Channel,
    ChannelTarget,
    Domain,
    KnowledgeSheet,
    Process,
)
from skills.sheets import read_sheets

FORMAT_VERSION = 1
DEFAULT_SLA_PERCENT = 80.0

TOP_KEYS = ("version", "town", "triage", "defaults", "domains", "processes", "sheets")
DEFAULTS_KEYS = ("min_level", "channels", "targets")
DOMAIN_KEYS = ("label", "defaults")
PROCESS_KEYS = ("code", "label", "domain", "min_level", "channels", "targets", "fallback", "sheet")
TARGET_KEYS = ("handling", "sla", "sla_percent", "overflow")

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What is not absurd on a channel (seconds)."""

    handling: float
    sla: float


# A phone call of more than 2 h, a caller held more than 1 h or a written
# request promised in more than a month is a typing error, not a target.
LIMITS: dict[Channel, Limits] = {
    Channel.PHONE: Limits(handling=2 * HOUR, sla=1 * HOUR),
    Channel.COUNTER: Limits(handling=4 * HOUR, sla=4 * HOUR),
    Channel.CALLBACK: Limits(handling=2 * HOUR, sla=31 * DAY),
    Channel.EMAIL: Limits(handling=8 * HOUR, sla=31 * DAY),
    Channel.WEBFORM: Limits(handling=8 * HOUR, sla=31 * DAY),
    Channel.MAIL: Limits(handling=8 * HOUR, sla=31 * DAY),
}

_UNITS = {"d": DAY, "j": DAY, "h": HOUR, "min": MINUTE, "mn": MINUTE, "m": MINUTE, "s": 1.0}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_DURATION_RE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*(?:d|j|h|min|mn|m|s)\s*)+")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|j|h|min|mn|m|s)")


def parse_duration(raw: str) -> float | None:
    """Seconds from ``90``, ``20s``, ``10m``, ``48h``, ``3d``, ``1h30m``; None if unreadable."""
    text = raw.strip().lower().replace(",", ".")
    if _NUMBER_RE.fullmatch(text):
        return float(text)
    if not _DURATION_RE.fullmatch(text):
        return None
    return sum(float(n) * _UNITS[u] for n, u in _PART_RE.findall(text))


def format_duration(seconds: float) -> str:
    """``45s``, ``10m``, ``1h30m``, ``3d``: the short form used in messages and tables."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    if rest == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# ------------------------------------------------------------------ partial records

TargetFields = dict[str, "float | None"]

# A field whose value was refused: its error is already reported, and processes
# that inherit it must not report it missing again.
_INVALID = float("nan")


@dataclass
class _Defaults:
    min_level: int | None = None
    channels: tuple[Channel, ...] | None = None
    targets: dict[Channel, TargetFields] = field(default_factory=dict)


@dataclass
class _ProcessDraft:
    code: str
    label: str | None
    domain: str | None
    domain_node: Node | None
    min_level: int | None
    channels: tuple[Channel, ...] | None
    targets: dict[Channel, tuple[TargetFields, Node]]
    fallback: str | None
    fallback_node: Node | None
    sheet: str | None
    sheet_node: Node | None
    node: Node


class _CatalogueParser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems = Problems(path)
        self.doc = Doc(self.problems)
        self.served: dict[str, tuple[Channel, ...]] = {}  # process code -> its channels
        self.sheet_refs: set[str] = set()  # every sheet written, valid or not (its own errors are reported)

    # --- entry point

    def parse(self, text: str) -> Catalogue | None:
        root = compose(text, self.problems)
        if root is None:
            return None
        top = self.doc.mapping(root, "catalogue")
        if top is None:
            return None
        self.doc.check_keys(top, TOP_KEYS, "catalogue")
        self._version(top.get("version"))
        if "town" in top:
            self.doc.text(top["town"].node, "town")

        triage = "triage"
        if "triage" in top:
            value = self.doc.text(top["triage"].node, "triage")
            if value is not None:
                triage = value.strip()

        defaults = _Defaults()
        if "defaults" in top:
            defaults = self._defaults(top["defaults"].node, "defaults")

        domains: dict[str, tuple[Domain, _Defaults]] = {}
        if "domains" not in top:
            self.doc.error(root, "catalogue: missing required field 'domains'")
        else:
            domains = self._domains(top["domains"].node)

        drafts: list[_ProcessDraft] = []
        if "processes" not in top:
            self.doc.error(root, "catalogue: missing required field 'processes'")
        else:
            drafts = self._processes(top["processes"].node, domains)

        sheets: dict[str, KnowledgeSheet] = {}
        if "sheets" in top:
            sheets = read_sheets(self.doc, top["sheets"].node, self.sheet_refs)
        processes = self._build(drafts, defaults, domains, triage)
        self._check_triage(triage, drafts, top.get("triage"), root)
        self._check_fallbacks(drafts, processes, triage)
        self._check_sheets(drafts, "sheets" in top)
        if self.problems:
            return None
        return Catalogue(
            processes=processes,
            domains={code: domain for code, (domain, _) in domains.items()},
            triage=triage,
            sheets=sheets,
        )

    def _version(self, entry: Entry | None) -> None:
        if entry is None:
            return
        value = self.doc.text(entry.node, "version")
        if value is not None and value.strip() != str(FORMAT_VERSION):
            self.doc.error(
                entry.node, f"unsupported catalogue version '{value}' (expected {FORMAT_VERSION})"
            )

    # --- defaults and targets

    def _defaults(self, node: Node, what: str) -> _Defaults:
        result = _Defaults()
        entries = self.doc.mapping(node, what)
        if entries is None:
            return result
        self.doc.check_keys(entries, DEFAULTS_KEYS, what)
        if "min_level" in entries:
            result.min_level = self._min_level(entries["min_level"].node, what)
        if "channels" in entries:
            result.channels = self._channels(entries["channels"].node, what)
        if "targets" in entries:
            targets = self._targets(entries["targets"].node, what)
            result.targets = {ch: fields for ch, (fields, _) in targets.items()}
        return result

    def _min_level(self, node: Node, what: str) -> int | None:
        raw = self.doc.text(node, f"{what}, min_level")
        if raw is None:
            return None
        level = parse_level(raw)
        if level is None:
            self.doc.error(node, f"{what}: bad min_level '{raw}' (expected 1, 2 or 3)")
        return level

    def _channels(self, node: Node, what: str) -> tuple[Channel, ...] | None:
        found = self.doc.channels(node, f"{what}, channels")
        if found is None:
            return None
        if not found:
            self.doc.error(node, f"{what}: channels is empty (a process serves at least one)")
            return None
        return tuple(ch for ch, _ in found)

    def _targets(self, node: Node, what: str) -> dict[Channel, tuple[TargetFields, Node]]:
        result: dict[Channel, tuple[TargetFields, Node]] = {}
        entries = self.doc.mapping(node, f"{what}, targets")
        if entries is None:
            return result
        for name, entry in entries.items():
            try:
                channel = Channel(name)
            except ValueError:
                self.doc.error(
                    entry.key_node,
                    f"{what}: unknown channel '{name}' in targets{channel_hint(name)}",
                )
                continue
            result[channel] = (self._target(entry.node, channel, f"{what}, {name}"), entry.key_node)
        return result

    def _target(self, node: Node, channel: Channel, what: str) -> TargetFields:
        fields: TargetFields = {}
        entries = self.doc.mapping(node, what)
        if entries is None:
            return fields
        self.doc.check_keys(entries, TARGET_KEYS, what)
        limits = LIMITS[channel]
        for key in ("handling", "sla", "overflow"):
            if key not in entries:
                continue
            value_node = entries[key].node
            raw = self.doc.text(value_node, f"{what}, {key}")
            if raw is None:
                if key == "overflow":
                    fields[key] = None  # explicitly never overflow
                else:
                    self.doc.error(value_node, f"{what}: {key} is empty")
                    fields[key] = _INVALID
                continue
            seconds = self._duration(raw, value_node, what, key)
            if seconds is None:
                fields[key] = _INVALID
                continue
            limit = limits.handling if key == "handling" else limits.sla
            if key != "overflow" and seconds <= 0:
                self.doc.error(value_node, f"{what}: {key} must be positive, got '{raw}'")
                fields[key] = _INVALID
            elif seconds > limit:
                self.doc.error(
                    value_node,
                    f"{what}: absurd {_FIELD_WORDS[key]} '{raw}' "
                    f"(at most {format_duration(limit)} on {channel.value})",
                )
                fields[key] = _INVALID
            else:
                fields[key] = seconds
        if "sla_percent" in entries:
            value_node = entries["sla_percent"].node
            raw = self.doc.text(value_node, f"{what}, sla_percent")
            percent = self._percent(raw, value_node, what)
            fields["sla_percent"] = _INVALID if percent is None else percent
        return fields

    def _duration(self, raw: str, node: Node, what: str, key: str) -> float | None:
        if raw.strip().startswith("-"):
            self.doc.error(node, f"{what}: {key} must not be negative, got '{raw}'")
            return None
        seconds = parse_duration(raw)
        if seconds is None or not math.isfinite(seconds):
            self.doc.error(
                node,
                f"{what}: bad duration '{raw}' for {key} (expected e.g. 90, 20s, 10m, 48h, 3d)",
            )
            return None
        return seconds

    def _percent(self, raw: str | None, node: Node, what: str) -> float | None:
        text = (raw or "").strip().removesuffix("%").strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            self.doc.error(
                node, f"{what}: bad sla_percent '{raw}' (expected a percentage, e.g. 80)"
            )
            return None
        if 0 < value <= 1:
            self.doc.error(
                node,
                f"{what}: sla_percent '{raw}' looks like a fraction; write a percentage "
                f"(e.g. {value * 100:g} for {value * 100:g} %)",
            )
            return None
        if not 1 < value <= 100:
            self.doc.error(
                node, f"{what}: absurd sla_percent '{raw}' (expected more than 1, at most 100)"
            )
            return None
        return value

    # --- domains

    def _domains(self, node: Node) -> dict[str, tuple[Domain, _Defaults]]:
        result: dict[str, tuple[Domain, _Defaults]] = {}
        entries = self.doc.mapping(node, "domains")
        if entries is None:
            return result
        if not entries:
            self.doc.error(node, "domains: no domain defined")
        for code, entry in entries.items():
            what = f"domain '{code}'"
            if not SLUG_RE.match(code):
                self.doc.error(
                    entry.key_node,
                    f"bad domain code '{code}' (lowercase ASCII letters, digits and '_', "
                    "starting with a letter, at most 40)",
                )
                continue
            defaults = _Defaults()
            entries_d = None
            if isinstance(entry.node, MappingNode):  # label + defaults
                entries_d = self.doc.mapping(entry.node, what)
            if entries_d is None:
                label = self.doc.text(entry.node, f"{what}, label")
                if label is None or not label.strip():
                    self.doc.error(entry.node, f"{what}: empty label")
                    continue
            else:
                self.doc.check_keys(entries_d, DOMAIN_KEYS, what)
                label = self.doc.required_text(entries_d, "label", what, entry.key_node)
                if "defaults" in entries_d:
                    defaults = self._defaults(entries_d["defaults"].node, f"{what}, defaults")
                if label is None:
                    continue
            result[code] = (Domain(code=code, label=label.strip()), defaults)
        return result

    # --- processes

    def _processes(
        self, node: Node, domains: dict[str, tuple[Domain, _Defaults]]
    ) -> list[_ProcessDraft]:
        drafts: list[_ProcessDraft] = []
        items = self.doc.sequence(node, "processes")
        if items is None:
            return drafts
        if not items:
            self.doc.error(node, "processes: the list is empty")
        first_line: dict[str, int] = {}
        for index, item in enumerate(items, start=1):
            draft = self._process(item, index, domains)
            if draft is None:
                continue
            if draft.code in first_line:
                first = first_line[draft.code]
                self.doc.error(
                    draft.node, f"duplicate process code '{draft.code}' (first at line {first})"
                )
                continue
            first_line[draft.code] = draft.node.start_mark.line + 1
            drafts.append(draft)
        return drafts

    def _process(
        self, node: Node, index: int, domains: dict[str, tuple[Domain, _Defaults]]
    ) -> _ProcessDraft | None:
        entries = self.doc.mapping(node, f"process #{index}")
        if entries is None:
            return None
        code = self.doc.required_text(entries, "code", f"process #{index}", node)
        if code is None:
            return None
        what = f"process '{code}'"
        if not SLUG_RE.match(code):
            self.doc.error(
                entries["code"].node,
                f"bad process code '{code}' (lowercase ASCII letters, digits and '_', "
                "starting with a letter, at most 40)",
            )
        self.doc.check_keys(entries, PROCESS_KEYS, what)
        label = self.doc.required_text(entries, "label", what, node)
        domain = self.doc.required_text(entries, "domain", what, node)
        domain_node = entries["domain"].node if "domain" in entries else None
        if domain is not None and domain not in domains and domain_node is not None:
            hint = did_you_mean(domain, domains) or f" (known: {', '.join(domains) or 'none'})"
            self.doc.error(domain_node, f"{what}: unknown domain '{domain}'{hint}")
        min_level = None
        if "min_level" in entries:
            min_level = self._min_level(entries["min_level"].node, what)
        channels = None
        if "channels" in entries:
            channels = self._channels(entries["channels"].node, what)
        targets: dict[Channel, tuple[TargetFields, Node]] = {}
        if "targets" in entries:
            targets = self._targets(entries["targets"].node, what)
        fallback = fallback_node = None
        if "fallback" in entries:
            fallback_node = entries["fallback"].node
            fallback = self.doc.text(fallback_node, f"{what}, fallback")
        sheet = sheet_node = None
        if "sheet" in entries:
            sheet_node = entries["sheet"].node
            sheet = self.doc.text(sheet_node, f"{what}, sheet")
        return _ProcessDraft(
            code=code,
            label=label,
            domain=domain,
            domain_node=domain_node,
            min_level=min_level,
            channels=channels,
            targets=targets,
            fallback=fallback.strip() if fallback else None,
            fallback_node=fallback_node,
            sheet=sheet.strip() if sheet and sheet.strip() else None,
            sheet_node=sheet_node,
            node=node,
        )

    def _build(
        self,
        drafts: list[_ProcessDraft],
        defaults: _Defaults,
        domains: dict[str, tuple[Domain, _Defaults]],
        triage: str,
    ) -> dict[str, Process]:
        processes: dict[str, Process] = {}
        for draft in drafts:
            if draft.label is None or draft.domain is None or draft.domain not in domains:
                continue
            domain_defaults = domains[draft.domain][1]
            what = f"process '{draft.code}'"
            channels = draft.channels or domain_defaults.channels or defaults.channels
            channels = channels or ALL_CHANNELS
            self.served[draft.code] = channels
            served = set(channels)
            ok = True
            for channel, (_, key_node) in draft.targets.items():
                if channel not in served:
                    listed = ", ".join(c.value for c in channels)
                    self.doc.error(
                        key_node,
                        f"{what}: a target for '{channel.value}' but the process does not serve "
                        f"it (channels: {listed})",
                    )
                    ok = False
            targets: dict[Channel, ChannelTarget] = {}
            missing: dict[tuple[str, ...], list[str]] = {}
            for channel in ALL_CHANNELS:
                if channel not in served:
                    continue
                merged: TargetFields = {}
                merged.update(defaults.targets.get(channel, {}))
                merged.update(domain_defaults.targets.get(channel, {}))
                if channel in draft.targets:
                    merged.update(draft.targets[channel][0])
                target = self._target_of(merged)
                if isinstance(target, ChannelTarget):
                    targets[channel] = target
                else:
                    ok = False
                    if target:
                        missing.setdefault(target, []).append(channel.value)
            for keys, names in missing.items():
                words = " and ".join(_FIELD_WORDS[key] for key in keys)
                plural = "s" if len(names) > 1 else ""
                self.doc.error(
                    draft.node,
                    f"{what}: no {words} for channel{plural} {', '.join(names)} (set "
                    f"targets.<channel>.{keys[0]} in the process, its domain's defaults or "
                    "the catalogue's defaults)",
                )
            min_level = draft.min_level or domain_defaults.min_level or defaults.min_level
            if not ok:
                continue
            processes[draft.code] = Process(
                code=draft.code,
                label=draft.label,
                domain=draft.domain,
                targets=targets,
                min_level=min_level or COMPETENT,
                fallback=draft.fallback or triage,
                sheet=draft.sheet,
            )
        return processes

    @staticmethod
    def _target_of(fields: TargetFields) -> ChannelTarget | tuple[str, ...]:
        """The target, or the required fields it lacks (none if a value was refused)."""
        if any(value is not None and math.isnan(value) for value in fields.values()):
            return ()  # an inherited value was refused, and reported where it is written
        missing = tuple(key for key in ("handling", "sla") if fields.get(key) is None)
        if missing:
            return missing
        handling = fields["handling"]
        sla = fields["sla"]
        assert handling is not None and sla is not None
        percent = fields.get("sla_percent")
        return ChannelTarget(
            handling_time_s=handling,
            sla_seconds=sla,
            sla_percent=(percent if percent is not None else DEFAULT_SLA_PERCENT) / 100.0,
            overflow_after_s=fields.get("overflow"),
        )

    # --- knowledge sheets

    def _check_sheets(self, drafts: list[_ProcessDraft], written: bool) -> None:
        """With a ``sheets`` section, every process's ``sheet`` must name one of them."""
        if not written:
            return
        for draft in drafts:
            if draft.sheet is not None and draft.sheet not in self.sheet_refs and draft.sheet_node is not None:
                self.doc.error(
                    draft.sheet_node,
                    f"process '{draft.code}': unknown sheet '{draft.sheet}'{did_you_mean(draft.sheet, self.sheet_refs)}",
                )

    # --- whole-catalogue checks

    def _check_triage(
        self,
        triage: str,
        drafts: list[_ProcessDraft],
        triage_entry: Entry | None,
        root: Node,
    ) -> None:
        anchor = triage_entry.node if triage_entry is not None else root
        draft = next((d for d in drafts if d.code == triage), None)
        if draft is None:
            self.doc.error(
                anchor,
                f"the triage process '{triage}' is not in the processes list "
                "(every process falls back to it: add it, with a target on every channel)",
            )
            return
        served = self.served.get(triage)
        if served is None:
            return  # no domain: reported
        missing = [c.value for c in ALL_CHANNELS if c not in served]
        if missing:
            self.doc.error(
                draft.node,
                f"the triage process '{triage}' must serve every channel "
                f"(missing: {', '.join(missing)})",
            )

    def _check_fallbacks(
        self, drafts: list[_ProcessDraft], processes: dict[str, Process], triage: str
    ) -> None:
        codes = {d.code for d in drafts}
        for draft in drafts:
            if draft.fallback is None or draft.fallback_node is None:
                continue
            if draft.fallback not in codes:
                self.doc.error(
                    draft.fallback_node,
                    f"process '{draft.code}': unknown fallback process '{draft.fallback}'"
                    f"{did_you_mean(draft.fallback, codes)}",
                )
        # A fallback chain must end at the triage process, not loop.
        for draft in drafts:
            if draft.code == triage or draft.code not in processes:
                continue
            seen = [draft.code]
            current = processes[draft.code].fallback
            while current != triage and current in processes and current not in seen:
                seen.append(current)
                current = processes[current].fallback
            if current in seen:
                chain = " -> ".join([*seen, current])
                self.doc.error(
                    draft.fallback_node or draft.node,
                    f"process '{draft.code}': fallback loop {chain} (a chain must end at "
                    f"'{triage}')",
                )


_FIELD_WORDS = {
    "handling": "handling time",
    "sla": "SLA time",
    "overflow": "overflow delay",
}


# ------------------------------------------------------------------ public API


def parse_catalogue(text: str, path: str = "<catalogue>") -> Catalogue:
    """The catalogue in ``text``; a SkillFileError lists every problem."""
    parser = _CatalogueParser(path)
    catalogue = parser.parse(text)
    parser.problems.raise_if_any()
    assert catalogue is not None
    return catalogue


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a catalogue file (UTF-8 YAML)."""
    return parse_catalogue(load_text(path), str(path))


def default_catalogue_path() -> str:
    """Where the bundled sample catalogue is (for messages)."""
    return str(resources.files("skills.data").joinpath("catalogue.yaml"))


def default_catalogue() -> Catalogue:
    """The bundled sample catalogue of a French town hall (``skills/data/catalogue.yaml``)."""
    resource = resources.files("skills.data").joinpath("catalogue.yaml")
    return parse_catalogue(decode(resource.read_bytes(), "catalogue.yaml"), "catalogue.yaml")
