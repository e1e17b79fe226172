"""Batch assignment: several agents freed at once, matched to waiting contacts optimally.

Taking freed agents one by one can strand work: agent A (passports and
crèches) takes the passport caller that only agent B could have served while a
crèche caller keeps waiting. Solving the whole batch as an assignment problem
(scipy's ``linear_sum_assignment``) maximises, in this order, the number of
contacts served now, their urgency (rule 2) and the agents' suitability.
The greedy pass is the fallback when the batch is too large or scipy fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dispatcher.state import LIVE_RANK, AgentRecord, ContactRecord

MAX_BATCH_CELLS = 250_000
"""Above this many agent x contact cells the greedy pass is used instead."""

_MATCH = 1e9
_LIVE = 1e6
_PRIORITY = 1e4
_MAX_RATIO = 999.0


def urgency_score(contact: ContactRecord, now: float) -> float:
    """Rule 2 as one number: live first, then priority class, then waited/SLA."""
    ratio = min((now - contact.arrived_at) * contact.inv_sla, _MAX_RATIO)
    live, priority = divmod(contact.rank, LIVE_RANK)
    return live * _LIVE + priority * _PRIORITY + ratio


def assign_batch(
    agents: Sequence[AgentRecord],
    contacts: Sequence[ContactRecord],
    level_for: Callable[[AgentRecord, ContactRecord], int | None],
    now: float,
) -> list[tuple[AgentRecord, ContactRecord, int]] | None:
    """Optimal (agent, contact, level) pairs, or None when the batch is too large.

    ``level_for`` gives the agent's level when it may take the contact now, else None.
    """
    if not agents or not contacts:
        return []
    if len(agents) * len(contacts) > MAX_BATCH_CELLS:
        return None
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    weights = np.zeros((len(agents), len(contacts)))
    levels: dict[tuple[int, int], int] = {}
    scores = [urgency_score(c, now) for c in contacts]
    for i, agent in enumerate(agents):
        for j, contact in enumerate(contacts):
            level = level_for(agent, contact)
            if level is not None:
                levels[(i, j)] = level
                weights[i, j] = _MATCH + scores[j] + level * 1e-3
    rows, cols = linear_sum_assignment(weights, maximize=True)
    pairs = []
    for i, j in zip(rows.tolist(), cols.tolist()):
        level = levels.get((i, j))
        if level is not None:
            pairs.append((agents[i], contacts[j], level))
    pairs.sort(key=lambda p: p[0].seq)
    return pairs
