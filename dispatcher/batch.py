"""Batch assignment: several agents freed at once, matched to waiting contacts.

Taking freed agents one by one can strand work: agent A (passports and
crèches) takes the passport caller that only agent B could have served while a
crèche caller keeps waiting. The batch is solved in two steps:

1. *Which contacts*: the candidates are taken most urgent first (rule 2); each
   is kept when the kept ones can still all be given an agent (an augmenting
   path, as in Kuhn's matching). Matchable sets form a matroid, so this greedy
   pass serves as many contacts as possible and, among those sets, the one
   rule 2 prefers: no contact left waiting is more urgent than a served one
   that the same agent could have taken instead.
2. *Which agent for which*: among the ways to give every kept contact an
   agent, the one with the highest total level (rule 3's most suitable),
   solved by scipy's ``linear_sum_assignment``.

Urgency therefore never trades against an agent's level, and ties of rule 2
are broken by arrival order as everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dispatcher.state import AgentRecord, ContactRecord

MAX_BATCH_CELLS = 250_000
"""Above this many agent x contact cells the greedy pass is used instead."""

_KEEP = 1_000_000.0
"""Weight of a kept contact's cell: above any sum of levels, so every kept contact is served."""


def _augment(
    j: int, eligible: list[list[int]], contact_of: list[int], seen: list[bool]
) -> bool:
    """Give contact ``j`` an agent, moving others along an augmenting path if needed."""
    for i in eligible[j]:
        if seen[i]:
            continue
        seen[i] = True
        if contact_of[i] < 0 or _augment(contact_of[i], eligible, contact_of, seen):
            contact_of[i] = j
            return True
    return False


def assign_batch(
    agents: Sequence[AgentRecord],
    contacts: Sequence[ContactRecord],
    level_for: Callable[[AgentRecord, ContactRecord], int | None],
    now: float,
) -> list[tuple[AgentRecord, ContactRecord, int]] | None:
    """(agent, contact, level) pairs, or None when the batch is too large.

    ``contacts`` come most urgent first; ``level_for`` gives the agent's level when
    it may take the contact now, else None.
    """
    if not agents or not contacts:
        return []
    if len(agents) * len(contacts) > MAX_BATCH_CELLS:
        return None
    levels: list[dict[int, int]] = []
    eligible: list[list[int]] = []
    for contact in contacts:
        row: dict[int, int] = {}
        for i, agent in enumerate(agents):
            level = level_for(agent, contact)
            if level is not None:
                row[i] = level
        levels.append(row)
        eligible.append(list(row))
    contact_of = [-1] * len(agents)
    kept: list[int] = []
    for j in range(len(contacts)):
        if len(kept) == len(agents):
            break
        if eligible[j] and _augment(j, eligible, contact_of, [False] * len(agents)):
            kept.append(j)
    if not kept:
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    weights = np.zeros((len(agents), len(kept)))
    for k, j in enumerate(kept):
        for i, level in levels[j].items():
            weights[i, k] = _KEEP + level
    rows, cols = linear_sum_assignment(weights, maximize=True)
    pairs = []
    for i, k in zip(rows.tolist(), cols.tolist()):
        j = kept[k]
        level = levels[j].get(i)
        if level is not None:
            pairs.append((agents[i], contacts[j], level))
    pairs.sort(key=lambda p: p[0].seq)
    return pairs
