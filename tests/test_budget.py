"""reports/budget.py: problems solved against compute spent, from the attempts.  The choice among
a truncated run's attempts is the run's own rule, hidden tests only score it; a run is read at a
budget without extrapolating past its last agent; at equal compute per problem a run that ran out
of agents leaves the problem undecided, and both completions are given."""
from __future__ import annotations

from dataclasses import replace

import pytest

from reports import budget
from reports.budget import Point, Try
from storage import Store
from tests.test_report import RUN_A, RUN_S, fill_a, fill_sampler


def t(passed: bool = False, vis: int = 0, wall: float = 1.0, hidden: bool | None = False, key: str | None = None,
      **cost) -> Try:
    return Try(passed, vis, {"wall_s": wall, "tokens": cost.get("tokens"), "executions": cost.get("executions"),
                             "cpu_s": cost.get("cpu_s")}, hidden, key)


def test_the_choice_among_the_attempts_made_is_the_runs_rule():
    assert budget.chosen([]) is None and budget.solved([]) is False  # nothing ran: not solved
    first_pass = [t(vis=1, hidden=True), t(passed=True, vis=2, hidden=False), t(passed=True, vis=2, hidden=True)]
    assert budget.chosen(first_pass) is first_pass[1] and budget.solved(first_pass) is False
    # no visible pass: the one passing most visible tests, the earliest on ties; hidden only scores it
    none = [t(vis=1, hidden=False), t(vis=2, hidden=True), t(vis=2, hidden=False)]
    assert budget.chosen(none) is none[1] and budget.solved(none) is True
    assert budget.solved([t(vis=1, hidden=None)]) is None  # the chosen attempt was not scored


def test_within_a_budget_agents_run_in_order_while_the_next_fits():
    tries = [t(wall=2.0), t(wall=3.0), t(passed=True, wall=4.0), t(wall=1.0)]
    assert budget.within(tries, "wall_s", 1.9) == ([], False)  # not even the first attempt
    assert budget.within(tries, "wall_s", 5.0) == (tries[:2], False)  # the third would not fit
    assert budget.within(tries, "wall_s", 9.0) == (tries[:3], False)  # stops at the visible pass
    assert budget.within(tries[:2], "wall_s", 6.0) == (tries[:2], True)  # ran out: undecided
    assert budget.within(tries[:2], "wall_s", 5.0) == (tries[:2], True)  # a budget equal to the cost fits


def test_a_curve_has_a_point_per_agent_and_is_read_without_extrapolating():
    run = {"a": [t(passed=True, wall=2.0, hidden=True)],  # greedy wins
           "b": [t(vis=1, wall=2.0), t(passed=True, wall=6.0, hidden=True)],  # the second agent wins
           "c": [t(wall=2.0), t(wall=6.0), t(vis=1, wall=6.0, hidden=True)]}  # nobody passes: best on visible
    pts = budget.curve(run, ["a", "b", "c"], "wall_s")
    assert pts == [Point(1, 2.0, 1, 3, 0), Point(2, 6.0, 2, 3, 0), Point(3, 8.0, 3, 3, 1)]
    assert budget.read_at(pts, 1.0) == Point(0, 0.0, 0, 3)  # below the first point: nothing ran
    assert budget.read_at(pts, 5.9) == pts[0] and budget.read_at(pts, 6.0) == pts[1]
    assert budget.read_at(pts, 8.0) == pts[2]
    assert budget.read_at(pts, 8.5) is None  # past the end with a problem out of agents: not read
    done = budget.curve({k: v for k, v in run.items() if k != "c"}, ["a", "b"], "wall_s")
    assert done[-1].open == 0 and budget.read_at(done, 100.0) == done[-1]  # nothing more would run
    assert budget.curve(run, [], "wall_s") == []
    unscored = {**run, "c": [t(wall=2.0), t(wall=6.0), t(vis=1, wall=6.0, hidden=None)]}
    assert budget.curve(unscored, ["a", "b", "c"], "wall_s") is None


def test_paired_at_equal_compute_per_problem_with_both_completions():
    eg = {"p1": [t(passed=True, wall=8.0, hidden=True)],  # both greedy: concordant
          "p2": [t(wall=8.0), t(passed=True, wall=40.0, hidden=True)],  # EG-CFG wins for 48 s
          "p3": [t(wall=8.0), t(wall=40.0), t(wall=40.0)],  # EG-CFG fails for 88 s
          "p4": [t(wall=8.0), t(passed=True, wall=10.0, hidden=True)]}  # EG-CFG wins cheaply (a draft)
    samp = {"p1": [t(passed=True, wall=8.0, hidden=True)],
            "p2": [t(wall=8.0), t(wall=10.0), t(wall=10.0)],  # ran out at 28 s < 48 s: undecided
            "p3": [t(wall=8.0), t(passed=True, wall=10.0, hidden=True)],  # wins within EG-CFG's 88 s
            "p4": [t(wall=8.0), t(wall=10.0), t(passed=True, wall=10.0, hidden=True)]}  # its win needs 28 s > 18 s
    tasks = ["p1", "p2", "p3", "p4"]
    p = budget.paired(eg, samp, tasks, "wall_s")
    assert (p.whole_only, p.cut_only, p.undecided_whole_solved, p.undecided_whole_failed, p.n) == (
        ["p4"], ["p3"], ["p2"], [], 4)
    assert p.undecided == 1
    assert p.completed(False) == (2, 1) and p.completed(True) == (1, 1)
    text = budget.paired_text(p, "EG-CFG", "sampling", "EG-CFG")
    assert text.startswith("EG-CFG minus sampling on 4 problems: 1 to 1 on the decided ones, 1 undecided "
                           "(sampling ran out of agents with budget left; EG-CFG solved 1 of them).")
    assert "a failure of sampling: 2 to 1, +25.0 points" in text and "a success: 1 to 1, +0.0 points" in text
    # the other way: sampling whole, EG-CFG at the sampling run's compute (p3: 18 s, EG-CFG's second
    # attempt does not fit; p4: 28 s, EG-CFG wins at 18 s; p2: 28 s, EG-CFG's second attempt needs 48 s)
    q = budget.paired(samp, eg, tasks, "wall_s")
    assert (q.whole_only, q.cut_only, q.undecided) == (["p3"], [], 0)
    assert budget.paired_text(q, "sampling", "EG-CFG", "EG-CFG").startswith(
        "EG-CFG minus sampling on 4 problems: 0 to 1, -25.0 points, 95% bootstrap interval [")
    assert budget.paired({**eg, "p1": [t(passed=True, hidden=None)]}, samp, tasks, "wall_s") is None


def test_an_attempt_both_runs_made_alike_costs_both_the_same():
    """Two stores' greedy attempt is one attempt (one key), timed twice: 8.0 s in one run, 8.4 s in
    the other.  The pairing costs it the mean in both, so the timing difference decides nothing:
    measured apart, the run that timed it slower could not afford its own greedy attempt at the
    other's compute, and a problem both solve with it would count as a loss."""
    eg = {"g": [t(passed=True, wall=8.0, tokens=100.0, hidden=True, key="g")],  # greedy passes in both
          "p": [t(wall=8.0, tokens=100.0, key="g"), t(passed=True, wall=40.0, tokens=900.0, hidden=True)]}
    samp = {"g": [t(passed=True, wall=8.4, tokens=100.0, hidden=True, key="g")],
            "p": [t(wall=8.4, tokens=100.0, key="g"), t(passed=True, wall=3.0, tokens=80.0, hidden=True, key="s0")]}
    a, b = budget.one_cost(eg["p"], samp["p"])
    assert a[0].cost["wall_s"] == b[0].cost["wall_s"] == pytest.approx(8.2)
    assert a[0].cost["tokens"] == b[0].cost["tokens"] == 100.0 and a[0].cost["executions"] is None
    assert a[1] is eg["p"][1] and b[1] is samp["p"][1]  # not made by both: its own cost
    # at EG-CFG's compute sampling affords its greedy attempt on "g" and both attempts on "p"
    p = budget.paired(eg, samp, ["g", "p"], "wall_s")
    assert (p.whole_only, p.cut_only, p.undecided) == ([], [], 0)
    # at sampling's compute (11.2 s on "p") EG-CFG's guided attempt does not fit
    q = budget.paired(samp, eg, ["g", "p"], "wall_s")
    assert (q.whole_only, q.cut_only, q.undecided) == (["p"], [], 0)
    # the same attempts without their keys: sampling's 8.4 s greedy does not fit EG-CFG's 8.0 s on "g"
    unkeyed = {k: [replace(x, key=None) for x in v] for k, v in samp.items()}
    r = budget.paired(eg, unkeyed, ["g", "p"], "wall_s")
    assert (r.whole_only, r.cut_only) == (["g"], [])


def test_load_reads_the_runs_attempts_costs_and_scores(tmp_path):
    """From a store: attempts in agent order up to the first visible pass, their wall seconds from
    timings (the meter's columns are NULL here: no other unit), the final solution's own score and
    the other attempts' from attempt_evaluations (none here: None)."""
    from storage.readers import open_stores

    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        fill_a(s)
        fill_sampler(s)
    con = open_stores([db])
    try:
        eg, samp = budget.load(con, RUN_A, "mbpp"), budget.load(con, RUN_S, "mbpp")
        assert budget.load(con, RUN_A, "mbpp-et") == {}  # no final scored on that suite
    finally:
        con.close()
    assert sorted(eg) == ["Mbpp/1", "Mbpp/2", "Mbpp/3"] and sorted(samp) == ["Mbpp/1", "Mbpp/2"]
    assert [(x.passed_visible, x.visible_passed, x.hidden) for x in eg["Mbpp/2"]] == [
        (False, 1, None), (False, 0, None), (True, 2, True)]
    assert [x.hidden for x in eg["Mbpp/3"]] == [False, None, None]  # the final is greedy's: scored
    assert all(x.cost == {"wall_s": 9.0, "tokens": None, "executions": None, "cpu_s": None}
               for tries in eg.values() for x in tries)
    assert budget.units_measured([eg, samp], ["Mbpp/1", "Mbpp/2"]) == ["wall_s"]
    # each attempt knows its agent's attempt key: the runs' greedy attempts are one attempt (one
    # config less the grid), the sampler's is its own, a guided agent has none
    greedy = eg["Mbpp/2"][0].key
    assert greedy is not None and samp["Mbpp/2"][0].key == greedy
    assert [x.key for x in eg["Mbpp/2"][1:]] == [None, None]
    assert samp["Mbpp/2"][1].key not in (None, greedy)
    metered = {"Mbpp/1": [t(tokens=10.0, executions=3.0, cpu_s=1.5)]}
    assert budget.units_measured([metered], ["Mbpp/1"]) == ["wall_s", "tokens", "executions", "cpu_s"]
    # without attempt scores, the curve's middle points cannot be read; the whole run can
    assert budget.curve(eg, sorted(eg), "wall_s") is None
    assert budget.solved(eg["Mbpp/2"]) is True


@pytest.mark.parametrize("x, unit, text", [(8.0, "wall_s", "8.0 s"), (1234.5, "tokens", "1,234 tokens"),
                                           (3.0, "executions", "3.0 executions")])
def test_costs_read_as_numbers_with_their_unit(x, unit, text):
    assert budget.fmt_cost(x, unit) == text
