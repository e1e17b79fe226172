"""Knowledge sheets in the catalogue file: what the agent page shows for a process.

Part of the catalogue's format (``docs/skills.md``): a ``sheets`` mapping from
the reference a process gives in ``sheet`` to its title, the pieces to bring,
the steps, the delays and an optional link, in French and optionally English
(``en``). Every mistake is reported with its line, as for the rest of the file.
"""

from __future__ import annotations

import re

from yaml.nodes import Node

from skills._files import Doc, Entry
from skills.model import KnowledgeSheet, SheetText

SHEET_TEXT_KEYS = ("title", "pieces", "steps", "delay")
SHEET_KEYS = (*SHEET_TEXT_KEYS, "link", "en")
SHEET_REF_RE = re.compile(r"^[a-z0-9][a-z0-9_/-]{0,79}$")
LINK_RE = re.compile(r"^https?://[^\s]+$")


def read_sheets(doc: Doc, node: Node, refs: set[str]) -> dict[str, KnowledgeSheet]:
    """The ``sheets`` section; every reference written goes into ``refs`` (valid or not)."""
    result: dict[str, KnowledgeSheet] = {}
    entries = doc.mapping(node, "sheets")
    if entries is None:
        return result
    for ref, entry in entries.items():
        what = f"sheet '{ref}'"
        refs.add(ref)
        if not SHEET_REF_RE.match(ref):
            doc.error(
                entry.key_node,
                f"bad sheet reference '{ref}' (lowercase ASCII letters, digits, '-', '_' and '/', at most 80)",
            )
            continue
        fields = doc.mapping(entry.node, what)
        if fields is None:
            continue
        doc.check_keys(fields, SHEET_KEYS, what)
        texts: dict[str, SheetText] = {}
        french = _sheet_text(doc, fields, what, entry.key_node)
        if french is not None:
            texts["fr"] = french
        if "en" in fields:
            english_fields = doc.mapping(fields["en"].node, f"{what}, en")
            if english_fields is not None:
                doc.check_keys(english_fields, SHEET_TEXT_KEYS, f"{what}, en")
                english = _sheet_text(doc, english_fields, f"{what}, en", fields["en"].key_node)
                if english is not None:
                    texts["en"] = english
        link = None
        if "link" in fields:
            link = doc.text(fields["link"].node, f"{what}, link")
            if link is not None and not LINK_RE.match(link.strip()):
                doc.error(fields["link"].node, f"{what}: link '{link}' is not a web address (http:// or https://)")
            link = link.strip() if link else None
        if "fr" in texts:
            result[ref] = KnowledgeSheet(ref=ref, texts=texts, link=link)
    return result


def _sheet_text(doc: Doc, fields: dict[str, Entry], what: str, anchor: Node) -> SheetText | None:
    """One language's text: title, pieces and steps (non-empty lists of lines), delay."""
    title = doc.required_text(fields, "title", what, anchor)
    delay = doc.required_text(fields, "delay", what, anchor)
    lists: list[tuple[str, ...]] = []
    for key in ("pieces", "steps"):
        entry = fields.get(key)
        if entry is None:
            doc.error(anchor, f"{what}: missing required field '{key}'")
            continue
        items = doc.sequence(entry.node, f"{what}, {key}")
        if items is None:
            continue
        if not items:
            doc.error(entry.node, f"{what}: {key} is empty (at least one line)")
            continue
        lines = []
        for item in items:
            line = doc.text(item, f"{what}, {key}")
            if line is None or not line.strip():
                doc.error(item, f"{what}: empty line in {key}")
            else:
                lines.append(line.strip())
        if len(lines) == len(items):
            lists.append(tuple(lines))
    if title is None or delay is None or len(lists) != 2:
        return None
    return SheetText(title=title, pieces=lists[0], steps=lists[1], delay=delay)
