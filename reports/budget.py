"""Equal compute: problems solved as a function of the compute a run spent, from its attempts.

The definitions (``DEFINITION`` is printed with every figure made from them):

- A run's attempts on a problem are taken in agent order, up to and including the first that
  passed the visible tests (the run's own stop rule; an attempt after it was cancelled or moot).
  Each costs what it measured, in a unit of ``UNITS``.
- The run *truncated to its first k agents*: each problem runs agents 0..k-1, stopping at a
  visible pass; its solution is chosen among the attempts made by the run's own rule (the first
  visible pass, else the attempt passing most visible tests, the earliest on ties:
  ``agents.final_index``) and scored on the hidden tests (``attempt_evaluations``; where the
  choice is the stored final solution, its own score).  Hidden tests choose nothing.
- A run's *curve*: one point per k = 1..K, (mean cost per problem, problems solved).  The last
  point is the whole run and the curve ends there: a run with more agents might go further, and
  nothing is extrapolated.  A run *read at a budget* B (mean per problem) is its point with the
  largest k whose cost is at most B; past its last point it is not read (unless every problem
  ended at a visible pass: then no agent would run with more, and it stays at its last point).
- *Paired at equal compute per problem*: one run whole against another given, on each problem,
  the compute the first spent there: the second runs its agents in order while the next attempt
  fits the budget, stopping at a visible pass, and its solution is chosen as above.  A problem
  where it ran out of agents with budget left and no visible pass is *undecided*: what its next
  agents would have done is not in the data.  Both completions are reported (every undecided
  problem a failure of the truncated run, or a success), so a conclusion that holds for both
  holds whatever those agents would have done.  An attempt both runs made alike (one
  ``attempt_key``: the greedy attempt, a sampler of one seed, decoded token for token the same)
  costs both runs one cost there, the mean of its two measurements: its tokens and executions
  are equal, its seconds were timed twice, and a pairing must not turn that timing noise into a
  problem one run could not afford.

Plain functions over plain records; the SQL is in ``load``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Iterable

import duckdb

from egcfg_core.config import stored_attempt_keys

DEFINITION = (
    "Each problem's attempts are taken in agent order, each problem stopping at its first visible "
    "pass (the run's own rule). A run *truncated to its first k agents* keeps, per problem, the "
    "attempts of agents 0..k-1, chooses its solution among them by the run's rule (the first "
    "visible pass, else the one passing most visible tests) and scores that on the hidden tests "
    "(every attempt was scored after the run: `egcfg evaluate RUN SUITE --all-attempts`; hidden "
    "tests choose nothing). Its point: (mean cost per problem of the attempts made, problems "
    "solved). The curve's last point is the whole run: it ends there and is not extrapolated. A run "
    "*read at a budget* is its point with the most agents whose mean cost is within the budget; a "
    "budget past a run's last point is not read (unless every problem ended at a visible pass there).")
PAIRED_DEFINITION = (
    "Paired at equal compute per problem: one run whole against the other given, on each problem, "
    "the compute the first spent on it (the second runs its agents in order while the next attempt "
    "fits, stopping at a visible pass, and chooses by its own rule). Where the truncated run ran "
    "out of agents with budget left and no visible pass the problem is *undecided* (its next agents "
    "are not in the data); the differences are given for both completions (every undecided problem "
    "a failure of the truncated run, or a success). An attempt both runs made alike (one attempt key: "
    "the greedy attempt, a sampler of one seed) costs both the mean of its two measurements.")


@dataclass(frozen=True)
class Unit:
    name: str
    label: str  # axis label
    short: str  # after a number
    sql: str  # per attempt, over ``attempts a``; NULL where not measured


UNITS: dict[str, Unit] = {u.name: u for u in (
    # every attempt has its wall seconds (timings), measured rows also the meter's column
    Unit("wall_s", "attempt wall seconds per problem", "s", "coalesce(a.timings['wall_s'], a.wall_s)"),
    # what the model processed: prompt prefills (the shared head once per problem), p_sol and
    # p_dyn tokens, the candidate rows' tokens (compute.FIELDS)
    Unit("tokens", "model tokens per problem", "tokens",
         "a.prefill_tokens + a.head_prefill_tokens + a.decoded_tokens_sol + a.decoded_tokens_dyn "
         "+ a.sampled_tokens"),
    Unit("executions", "sandbox executions per problem", "executions", "a.sandbox_runs::DOUBLE"),
    # the process's CPU (the model's threads) plus the sandboxed programs' (other processes)
    Unit("cpu_s", "CPU seconds per problem", "CPU s", "a.process_cpu_s + a.sandbox_cpu_s"),
)}
EPS = 1e-9  # costs are sums of the same stored floats: a budget equal to a cost fits it


@dataclass(frozen=True)
class Try:
    """One attempt: what the stop and choice rules read, its costs, its hidden verdict."""

    passed_visible: bool
    visible_passed: int  # visible tests passed (the choice when none passes them all)
    cost: dict[str, float | None]  # unit name -> cost (None: not measured)
    hidden: bool | None  # passed the hidden tests of the suite read (None: not scored)
    key: str | None = None  # its agent's attempt_key (None: a guided agent, or not known)


@dataclass(frozen=True)
class Point:
    k: int  # agents
    cost: float  # mean per problem
    solved: int
    n: int  # problems
    open: int = 0  # problems whose agents ran out by agent k without a visible pass


def load(con: duckdb.DuckDBPyConnection, run_id: str, suite: str) -> dict[str, list[Try]]:
    """The run's done problems that have a final solution scored on ``suite`` (the run's own
    benchmark: solutions.passed_hidden; another: suite_evaluations) -> their attempts in agent
    order up to the first visible pass, each with its costs and its verdict on ``suite``."""
    costs = ", ".join(f"{u.sql} AS {u.name}" for u in UNITS.values())
    rows = con.execute(f"""
        WITH {_missing_tables(con)}run AS (SELECT config->>'benchmark' AS bench FROM runs WHERE run_id = $run),
        final AS (
            SELECT s.task_id, s.agent_index,
                   CASE WHEN (SELECT bench FROM run) = $suite THEN s.passed_hidden ELSE se.passed END AS hidden
            FROM solutions s JOIN problems p ON p.run_id = s.run_id AND p.task_id = s.task_id AND p.status = 'done'
            LEFT JOIN (SELECT task_id, bool_and(passed_problem) AS passed FROM suite_evaluations
                       WHERE run_id = $run AND suite = $suite GROUP BY task_id) se ON se.task_id = s.task_id
            WHERE s.run_id = $run)
        SELECT a.task_id, a.agent_index, a.passed_visible,
               len(list_filter(a.visible, lambda o: o.status = 'passed')) AS visible_passed, {costs},
               CASE WHEN a.agent_index = f.agent_index THEN f.hidden ELSE e.passed END AS hidden
        FROM attempts a JOIN final f ON f.task_id = a.task_id
        LEFT JOIN attempt_evaluations e ON e.run_id = a.run_id AND e.task_id = a.task_id
             AND e.agent_index = a.agent_index AND e.suite = $suite
        WHERE a.run_id = $run AND f.hidden IS NOT NULL
        ORDER BY a.task_id, a.agent_index""", {"run": run_id, "suite": suite}).fetchall()
    keys = _attempt_keys(con, run_id)
    out: dict[str, list[Try]] = {}
    for task_id, index, passed, vis, *rest in rows:
        tries = out.setdefault(task_id, [])
        if tries and tries[-1].passed_visible:
            continue  # after the first visible pass: not part of the run
        *cost, hidden = rest
        tries.append(Try(bool(passed), int(vis or 0), dict(zip(UNITS, cost)), hidden,
                         keys[index] if index < len(keys) else None))
    return out


def _attempt_keys(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str | None]:
    """The run's agents' attempt keys by agent index (``stored_attempt_keys``)."""
    row = con.execute("SELECT config FROM runs WHERE run_id = $run", {"run": run_id}).fetchone()
    if row is None:
        return []
    stored = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return stored_attempt_keys(stored)


# the tables a store written before them lacks (scored after the run): read as empty there
_LATER_TABLES = {
    "suite_evaluations": "NULL::VARCHAR AS run_id, NULL::VARCHAR AS task_id, NULL::VARCHAR AS suite, "
                         "NULL::BOOLEAN AS passed_problem",
    "attempt_evaluations": "NULL::VARCHAR AS run_id, NULL::VARCHAR AS task_id, NULL::INTEGER AS agent_index, "
                           "NULL::VARCHAR AS suite, NULL::BOOLEAN AS passed",
}


def _missing_tables(con: duckdb.DuckDBPyConnection) -> str:
    """Empty CTEs named like the later tables this store lacks (a CTE shadows a table name)."""
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return "".join(f"{name} AS (SELECT {cols} WHERE false), " for name, cols in _LATER_TABLES.items()
                   if name not in have)


def units_measured(runs: Iterable[dict[str, list[Try]]], tasks: Iterable[str]) -> list[str]:
    """The units every attempt of these runs on these problems measured, in ``UNITS`` order."""
    tasks = list(tasks)
    return [u for u in UNITS if all(t.cost[u] is not None for run in runs for task in tasks for t in run[task])]


def chosen(made: list[Try]) -> Try | None:
    """The run's rule among the attempts made (``agents.final_index``); None when none was."""
    if not made:
        return None
    for t in made:
        if t.passed_visible:
            return t
    best = max(range(len(made)), key=lambda i: (made[i].visible_passed, -i))
    return made[best]


def solved(made: list[Try]) -> bool | None:
    """The chosen solution passed the hidden tests (no attempt made: not solved; None: the chosen
    attempt was not scored)."""
    pick = chosen(made)
    return False if pick is None else pick.hidden


def within(tries: list[Try], unit: str, budget: float) -> tuple[list[Try], bool]:
    """(the attempts made within ``budget``, undecided?): agents in order while the next fits,
    stopping at a visible pass; undecided when the run ran out of agents with no visible pass."""
    spent, made = 0.0, []
    for t in tries:
        if spent + t.cost[unit] > budget + EPS * max(1.0, budget):
            return made, False
        spent += t.cost[unit]
        made.append(t)
        if t.passed_visible:
            return made, False
    return made, True


def cost(tries: list[Try], unit: str) -> float:
    return sum(t.cost[unit] for t in tries)


def curve(run: dict[str, list[Try]], tasks: list[str], unit: str) -> list[Point] | None:
    """The run's points k = 1..K on ``tasks`` (K: the most attempts a problem has); None when an
    attempt that a point needs was not scored on the hidden tests."""
    if not tasks:
        return []
    points = []
    for k in range(1, max(len(run[t]) for t in tasks) + 1):
        verdicts = [solved(run[t][:k]) for t in tasks]
        if any(v is None for v in verdicts):
            return None
        open_ = sum(len(run[t]) <= k and not run[t][-1].passed_visible for t in tasks)
        points.append(Point(k, sum(cost(run[t][:k], unit) for t in tasks) / len(tasks), sum(verdicts), len(tasks), open_))
    return points


def read_at(points: list[Point], budget: float) -> Point | None:
    """The point with the most agents whose mean cost is within ``budget`` (k = 0, nothing
    solved, below the first); past the last point None (not extrapolated), unless every problem
    ended at a visible pass there (no agent would run with more budget: the last point)."""
    if not points:
        return None
    if budget > points[-1].cost + EPS * max(1.0, budget):
        return None if points[-1].open else points[-1]
    fit = [p for p in points if p.cost <= budget + EPS * max(1.0, budget)]
    return fit[-1] if fit else Point(0, 0.0, 0, points[0].n)


@dataclass(frozen=True)
class Paired:
    """``whole`` against ``cut`` given each problem's compute of ``whole``, on ``n`` problems."""

    whole_only: list[str]  # decided problems solved by the whole run only
    cut_only: list[str]
    undecided_whole_solved: list[str]  # undecided: the truncated run ran out of agents
    undecided_whole_failed: list[str]
    n: int

    @property
    def undecided(self) -> int:
        return len(self.undecided_whole_solved) + len(self.undecided_whole_failed)

    def completed(self, cut_solves: bool) -> tuple[int, int]:
        """(whole only, cut only) with every undecided problem solved (``cut_solves``) or failed
        by the truncated run."""
        if cut_solves:
            return len(self.whole_only), len(self.cut_only) + len(self.undecided_whole_failed)
        return len(self.whole_only) + len(self.undecided_whole_solved), len(self.cut_only)


def one_cost(a: list[Try], b: list[Try]) -> tuple[list[Try], list[Try]]:
    """``a`` and ``b`` (two runs' attempts on one problem) with each attempt both made alike (one
    ``key``) costed the same in both: per unit the mean of its two measurements (None where
    either is None)."""
    theirs = {t.key: t for t in b if t.key is not None}
    mean = {}
    for t in a:
        if t.key is not None and t.key in theirs:
            u = theirs[t.key]
            mean[t.key] = {n: None if t.cost[n] is None or u.cost[n] is None else (t.cost[n] + u.cost[n]) / 2
                           for n in t.cost}

    def costed(tries: list[Try]) -> list[Try]:
        return [replace(t, cost=mean[t.key]) if t.key in mean else t for t in tries]
    return costed(a), costed(b)


def paired(whole: dict[str, list[Try]], cut: dict[str, list[Try]], tasks: list[str], unit: str) -> Paired | None:
    """Run ``whole`` against run ``cut`` truncated on each problem to the compute ``whole`` spent
    there (``within``), an attempt both made alike costed the same in both (``one_cost``); None
    when a verdict it needs was not scored."""
    w_only, c_only, und_ok, und_fail = [], [], [], []
    for t in tasks:
        mine, theirs = one_cost(whole[t], cut[t])
        w = solved(mine)
        made, undecided = within(theirs, unit, cost(mine, unit))
        c = solved(made)
        if w is None or (c is None and not undecided):
            return None
        if undecided:
            (und_ok if w else und_fail).append(t)
        elif w and not c:
            w_only.append(t)
        elif c and not w:
            c_only.append(t)
    return Paired(w_only, c_only, und_ok, und_fail, len(tasks))


def fmt_cost(x: float, unit: str) -> str:
    return f"{x:,.0f} {UNITS[unit].short}" if x >= 100 else f"{x:.1f} {UNITS[unit].short}"


def paired_text(p: Paired, whole: str, cut: str, first: str) -> str:
    """``p`` in words, as ``first`` (``whole`` or ``cut``) minus the other: the decided problems,
    the undecided ones, and per completion the counts, the paired bootstrap interval and the sign
    test (one completion when nothing is undecided)."""
    from .stats import interval_text, sign_test

    second = cut if first == whole else whole

    def ordered(counts: tuple[int, int]) -> tuple[int, int]:
        return counts if first == whole else counts[::-1]

    def said(counts: tuple[int, int]) -> str:
        a, b = ordered(counts)
        return f"{a} to {b}, {interval_text(a, b, p.n)}, sign test p = {sign_test(a, b):.2g}"
    decided = (len(p.whole_only), len(p.cut_only))
    if not p.undecided:
        return f"{first} minus {second} on {p.n} problems: {said(decided)}"
    a, b = ordered(decided)
    return (f"{first} minus {second} on {p.n} problems: {a} to {b} on the decided ones, {p.undecided} "
            f"undecided ({cut} ran out of agents with budget left; {whole} solved "
            f"{len(p.undecided_whole_solved)} of them). With every undecided problem a failure of {cut}: "
            f"{said(p.completed(False))}; with every one a success: {said(p.completed(True))}")
