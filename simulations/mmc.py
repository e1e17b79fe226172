"""The textbook single-skill queue, M/M/c (+M), as a Guichet scenario.

One process ``p`` on the phone, ``agents`` identical agents at the competent
level, Poisson arrivals, exponential handling times, no wrap-up, no ring-no-
answer, optionally exponential patience: exactly the model behind Erlang C
(Erlang A with patience). The benchmark and the validation tests run it
through the real routing core and compare with ``simulations/erlang.py``.
"""

from __future__ import annotations

from dispatcher.policy import RoutingPolicy
from simulations.model import ArrivalInterval, Scenario
from skills.model import (
    COMPETENT,
    AgentProfile,
    Catalogue,
    Channel,
    ChannelTarget,
    Process,
    SkillMatrix,
)

PROCESS = "p"


def mmc_policy() -> RoutingPolicy:
    """Routing without timers: no wrap-up, no ring-no-answer, no expiry."""
    return RoutingPolicy(
        wrap_up_s=0.0,
        offer_timeout_s={c: None for c in Channel},
        max_wait_s={c: None for c in Channel},
    )


def mmc_scenario(
    agents: int,
    load: float,
    aht_s: float,
    contacts: int,
    threshold_s: float = 20.0,
    patience_s: float | None = None,
    warmup_share: float = 0.05,
) -> Scenario:
    """``agents`` agents, ``load`` Erlangs of AHT ``aht_s``, about ``contacts`` arrivals.

    The first ``warmup_share`` of the horizon is left out of the results (the
    queue starts empty; Erlang's formulas describe the steady state).
    """
    target = ChannelTarget(aht_s, threshold_s, 0.8, None)
    catalogue = Catalogue(
        processes={
            code: Process(code=code, label=code, domain="d", targets={Channel.PHONE: target})
            for code in ("triage", PROCESS)
        }
    )
    matrix = SkillMatrix(
        agents={
            f"a{k:04d}": AgentProfile(
                f"a{k:04d}", f"a{k:04d}", {PROCESS: COMPETENT}, frozenset({Channel.PHONE})
            )
            for k in range(agents)
        }
    )
    horizon = contacts * aht_s / load
    stream = ArrivalInterval(0.0, horizon, PROCESS, Channel.PHONE, float(contacts), aht_s)
    return Scenario(
        catalogue=catalogue,
        matrix=matrix,
        arrivals=(stream,),
        policy=mmc_policy(),
        patience={Channel.PHONE: patience_s} if patience_s is not None else {},
        warmup_s=warmup_share * horizon,
    )
