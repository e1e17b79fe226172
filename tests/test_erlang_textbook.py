"""Published values, each recomputed here with mpmath so that the test data is verified too."""

from __future__ import annotations

import mpmath as mp
import pytest

from simulations import erlang
from tests.test_erlang_reference import ref_b, ref_c


def test_erlang_b_ten_erlangs_on_ten_lines() -> None:
    # Erlang B tables: A = 10 Erl on N = 10 lines blocks 21.458 % of the calls.
    assert float(ref_b(10, 10.0)) == pytest.approx(0.21458, abs=5e-6)
    assert float(erlang.erlang_b(10, 10.0)) == pytest.approx(0.21458, abs=5e-6)


@pytest.mark.parametrize(("a", "lines"), [(4.46, 10), (5.15, 11), (2.0, 7), (10.0, 18)])
def test_erlang_b_tables_at_one_percent_blocking(a: float, lines: int) -> None:
    # Erlang B tables at 1 % grade of service: 10 lines carry 4.46 Erl, 11 carry 5.16 Erl
    # (5.1599...: rounded up in the tables, so 5.15 here),
    # 7 lines are needed for 2 Erl and 18 for 10 Erl.
    assert ref_b(lines, a) <= mp.mpf("0.01") < ref_b(lines - 1, a)
    assert int(erlang.lines_for_blocking(a, 0.01)) == lines


def test_erlang_c_classic_call_centre_example() -> None:
    # 100 calls per 30 minutes, 3 minutes AHT: A = 10 Erl.  With 11 agents P(wait) = 0.6821;
    # 80 % within 20 s needs 14 agents: P(wait) 0.1741, SL 0.8884, ASA 7.84 s, occupancy 71.4 %.
    a = erlang.offered_load(100, 180, 1800)
    assert float(a) == pytest.approx(10.0)
    assert float(ref_c(11, 10.0, 180, 20)["p_wait"]) == pytest.approx(0.6821, abs=5e-5)
    assert float(erlang.erlang_c(11, a)) == pytest.approx(0.6821, abs=5e-5)
    ref = ref_c(14, 10.0, 180, 20)
    got = erlang.erlang_c_metrics(14, a, 180, 20)
    for key, published in (("p_wait", 0.1741), ("service_level", 0.8884), ("asa", 7.836)):
        assert float(ref[key]) == pytest.approx(published, abs=5e-4), key
        assert float(getattr(got, key)) == pytest.approx(published, abs=5e-4), key
    assert float(got.occupancy) == pytest.approx(0.714, abs=5e-4)


def test_erlang_c_with_13_agents_misses_80_in_20() -> None:
    ref = ref_c(13, 10.0, 180, 20)
    assert ref["service_level"] < mp.mpf("0.8")
    assert float(erlang.service_level(13, 10.0, 180, 20)) == pytest.approx(
        float(ref["service_level"]), rel=1e-12)
