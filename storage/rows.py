"""Records -> Arrow tables, one function per table of schema.sql.

Each function takes the run id and the records of ONE problem and returns a ``pyarrow.Table``
whose column names match the table (the writer inserts ``BY NAME``).  Columns are built as
Python lists in one pass and converted with explicit Arrow types; the token top-k lists are
built flat (offsets + values), which is what makes ~1e5+ decisions/s possible.
"""
from __future__ import annotations

import json
from itertools import accumulate, chain
from typing import Any, Iterable

import pyarrow as pa

from egcfg_core.attribution import Attribution, attribute
from egcfg_core.compute import ATTEMPT_FIELDS, FIELDS
from egcfg_core.records import (
    AgentConfig,
    AttemptRecord,
    AttemptScore,
    EvaluationRecord,
    SkippedRow,
    SolveRecord,
    TestOutcome,
)

TIMINGS = pa.map_(pa.string(), pa.float64())
TOPK = pa.list_(pa.struct([("id", pa.int32()), ("logp", pa.float32())]))
VISIBLE = pa.list_(
    pa.struct(
        [
            ("test_index", pa.int32()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("duration_s", pa.float64()),
        ]
    )
)
I32, I64, F64, STR, BOOL = pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.bool_()
ATTRIBUTION = {"code_source": STR, "final_tokens": I32, "final_guided_lines": I32, "final_guided_tokens": I32,
               "final_flipped_tokens": I32}
assert set(ATTRIBUTION) == set(Attribution.__dataclass_fields__)


def _compute_columns(costs: list[dict[str, float]], fields: Iterable[str]) -> dict[str, tuple[pa.DataType, list]]:
    """One column per compute field (seconds as doubles, counts as integers); an unmeasured
    record ({}) gives NULLs."""
    return {name: (F64 if name.endswith("_s") else I64, [c.get(name) if c else None for c in costs])
            for name in fields}


class RecordError(ValueError):
    """A record cannot be stored as given (wrong index, non-JSON trace, ...)."""


def _table(columns: dict[str, tuple[pa.DataType, list[Any]]]) -> pa.Table:
    return pa.table({name: pa.array(values, type=typ) for name, (typ, values) in columns.items()})


def _timings(d: dict[str, float] | None, where: str) -> list[tuple[str, float]]:
    try:
        return [(str(k), float(v)) for k, v in (d or {}).items()]
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{where}: timings must map names to numbers, got {d!r}") from exc


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # json.dumps builds one per call


def _json(value: Any, where: str) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{where} is not JSON-serialisable: {exc}") from exc


def outcome(attempt: AttemptRecord) -> str:
    """One word for how an attempt ended: passed, cancelled, error or failed."""
    if attempt.passed_visible:
        return "passed"
    if attempt.stop_reason == "cancelled":
        return "cancelled"
    if attempt.error or attempt.stop_reason == "error":
        return "error"
    return "failed"


def problems_table(
    run_id: str, solve: SolveRecord, *, wall_s: float, now: Any
) -> pa.Table:
    p = solve.problem
    return _table(
        {
            "run_id": (STR, [run_id]),
            "task_id": (STR, [p.task_id]),
            "benchmark": (STR, [p.benchmark]),
            "problem": (STR, [_json(p.to_dict(), f"problem {p.task_id}")]),
            "status": (STR, ["done"]),
            "done_at": (pa.timestamp("us"), [now]),
            "wall_s": (F64, [float(wall_s)]),
            "error": (STR, [""]),
            "failures": (I32, [0]),
            "n_attempts": (I32, [len(solve.attempts)]),
            "updated_at": (pa.timestamp("us"), [now]),
        }
    )


def attempts_table(run_id: str, solve: SolveRecord) -> pa.Table:
    task_id = solve.problem.task_id
    winner = solve.attempts[solve.winner].agent_index if solve.winner is not None else None
    final = solve.attempts[solve.final_index].agent_index
    cols: dict[str, list[Any]] = {k: [] for k in (
        "agent_index", "agent_name", "t", "gamma", "s", "d", "outcome", "stop_reason",
        "passed_visible", "is_winner", "is_final", "code", "error", "visible", "n_lines",
        "n_tokens", "timings", "verified_line", "verified_candidate", "reused_from", *ATTRIBUTION)}
    for a in solve.attempts:
        cols["agent_index"].append(a.agent_index)
        cols["agent_name"].append(a.agent.name)
        cols["t"].append(float(a.agent.t))
        cols["gamma"].append(float(a.agent.gamma))
        cols["s"].append(a.agent.s)
        cols["d"].append(a.agent.d)
        cols["outcome"].append(outcome(a))
        cols["stop_reason"].append(a.stop_reason)
        cols["passed_visible"].append(bool(a.passed_visible))
        cols["is_winner"].append(a.agent_index == winner)
        cols["is_final"].append(a.agent_index == final)
        cols["code"].append(a.code)
        cols["error"].append(a.error)
        cols["visible"].append([_outcome_struct(o) for o in a.visible])
        cols["n_lines"].append(len(a.lines))
        cols["n_tokens"].append(sum(len(ln.tokens) for ln in a.lines))
        cols["timings"].append(_timings(a.timings, f"{task_id} agent {a.agent_index}"))
        cols["verified_line"].append(a.verified_line)
        cols["verified_candidate"].append(a.verified_candidate)
        cols["reused_from"].append(a.reused_from)
        for k, v in attribute(a).__dict__.items():
            cols[k].append(v)
    n = len(solve.attempts)
    types = {"agent_index": I32, "agent_name": STR, "t": F64, "gamma": F64, "s": I32,
             "d": I32, "outcome": STR, "stop_reason": STR, "passed_visible": BOOL,
             "is_winner": BOOL, "is_final": BOOL, "code": STR, "error": STR,
             "visible": VISIBLE, "n_lines": I32, "n_tokens": I32, "timings": TIMINGS,
             "verified_line": I32, "verified_candidate": I32, "reused_from": STR, **ATTRIBUTION}
    return _table({"run_id": (STR, [run_id] * n), "task_id": (STR, [task_id] * n),
                   **{k: (types[k], v) for k, v in cols.items()},
                   **_compute_columns([a.compute for a in solve.attempts], ATTEMPT_FIELDS)})


def attempt_from_row(row: dict[str, Any], agent: AgentConfig, source_run: str) -> AttemptRecord:
    """An attempts row (``Store.greedy_attempts``) as the record of the same attempt in another
    run, reused from ``source_run`` (its lines stay in the store: ``Store.write_problems`` copies
    them), with what it cost there."""
    visible = [TestOutcome(test_index=o["test_index"], status=o["status"], error=o["error"],
                           duration_s=o["duration_s"]) for o in row["visible"] or []]
    timings = dict(row["timings"] or [])  # an Arrow map reads as (key, value) pairs
    return AttemptRecord(agent_index=row["agent_index"], agent=agent, code=row["code"], stop_reason=row["stop_reason"],
                         lines=[], visible=visible, passed_visible=bool(row["passed_visible"]), timings=timings,
                         error=row["error"], verified_line=row["verified_line"],
                         verified_candidate=row["verified_candidate"], reused_from=source_run,
                         compute={k: row[k] for k in ATTEMPT_FIELDS if row.get(k) is not None})


def _outcome_struct(o: TestOutcome) -> dict[str, Any]:
    return {"test_index": o.test_index, "status": o.status, "error": o.error,
            "duration_s": float(o.duration_s)}


def lines_table(run_id: str, solve: SolveRecord) -> pa.Table:
    task_id = solve.problem.task_id
    agent, idx, prefix, signal, chosen, ncand, ntok, timings, skip, costs = ([] for _ in range(10))
    for a in solve.attempts:
        for ln in a.lines:
            costs.append(ln.compute)
            agent.append(a.agent_index)
            idx.append(ln.line_index)
            prefix.append(ln.prefix)
            signal.append(ln.signal_text)
            chosen.append(ln.chosen_text)
            ncand.append(len(ln.candidates))
            ntok.append(len(ln.tokens))
            skip.append(ln.skip_rule)
            timings.append(_timings(ln.timings, f"{task_id} agent {a.agent_index} line {ln.line_index}"))
    n = len(agent)
    return _table({
        "run_id": (STR, [run_id] * n), "task_id": (STR, [task_id] * n),
        "agent_index": (I32, agent), "line_index": (I32, idx), "prefix": (STR, prefix),
        "signal_text": (STR, signal), "chosen_text": (STR, chosen),
        "n_candidates": (I32, ncand), "n_tokens": (I32, ntok), "timings": (TIMINGS, timings),
        "skip_rule": (STR, skip), **_compute_columns(costs, FIELDS),
    })


def candidates_table(run_id: str, solve: SolveRecord) -> pa.Table:
    task_id = solve.problem.task_id
    agent, line, idx, raw, exe, dup, carried = ([] for _ in range(7))
    for a in solve.attempts:
        for ln in a.lines:
            for c in ln.candidates:
                agent.append(a.agent_index)
                line.append(ln.line_index)
                idx.append(c.index)
                raw.append(c.raw_text)
                exe.append(c.executable)
                dup.append(c.duplicate_of)
                carried.append(c.carried_from)
    n = len(agent)
    return _table({
        "run_id": (STR, [run_id] * n), "task_id": (STR, [task_id] * n),
        "agent_index": (I32, agent), "line_index": (I32, line), "candidate_index": (I32, idx),
        "raw_text": (STR, raw), "executable": (STR, exe), "duplicate_of": (I32, dup),
        "carried_from": (I32, carried),
    })


def executions_table(run_id: str, solve: SolveRecord) -> pa.Table:
    task_id = solve.problem.task_id
    agent, line, cand, test, status, error, ttext, trace, dur = ([] for _ in range(9))
    for a in solve.attempts:
        for ln in a.lines:
            for c in ln.candidates:
                for e in c.executions:
                    where = (f"trace of {task_id} agent {a.agent_index} line {ln.line_index} "
                             f"candidate {e.candidate_index} test {e.test_index}")
                    agent.append(a.agent_index)
                    line.append(ln.line_index)
                    cand.append(e.candidate_index)
                    test.append(e.test_index)
                    status.append(e.status)
                    error.append(e.error)
                    ttext.append(e.trace_text)
                    trace.append(None if e.trace is None else _json(e.trace, where))
                    dur.append(float(e.duration_s))
    n = len(agent)
    return _table({
        "run_id": (STR, [run_id] * n), "task_id": (STR, [task_id] * n),
        "agent_index": (I32, agent), "line_index": (I32, line), "candidate_index": (I32, cand),
        "test_index": (I32, test), "status": (STR, status), "error": (STR, error),
        "trace_text": (STR, ttext), "trace": (STR, trace), "duration_s": (F64, dur),
    })


def _topk_array(lists: list[list[tuple[int, float]]]) -> pa.Array:
    """list[list[(id, logp)]] -> LIST<STRUCT(id, logp)>, built flat (C-speed loops)."""
    offsets = list(accumulate(map(len, lists), initial=0))
    flat = list(chain.from_iterable(lists))
    ids = [pair[0] for pair in flat]
    logps = [pair[1] for pair in flat]
    values = pa.StructArray.from_arrays(
        [pa.array(ids, type=pa.int32()), pa.array(logps, type=pa.float32())],
        names=["id", "logp"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)


def token_decisions_table(run_id: str, solve: SolveRecord) -> pa.Table:
    task_id = solve.problem.task_id
    agent, line, toks = [], [], []
    for a in solve.attempts:
        for ln in a.lines:
            agent.extend([a.agent_index] * len(ln.tokens))
            line.extend([ln.line_index] * len(ln.tokens))
            toks.extend(ln.tokens)
    n = len(toks)
    try:
        return pa.table({
            "run_id": pa.array([run_id] * n, type=STR),
            "task_id": pa.array([task_id] * n, type=STR),
            "agent_index": pa.array(agent, type=I32),
            "position": pa.array([t.position for t in toks], type=I32),
            "line_index": pa.array(line, type=I32),
            "token_id": pa.array([t.token_id for t in toks], type=I32),
            "token_text": pa.array([t.token_text for t in toks], type=STR),
            "gamma": pa.array([t.gamma for t in toks], type=F64),
            "logp_uncond": pa.array([t.logp_uncond for t in toks], type=F64),
            "logp_guided": pa.array([t.logp_guided for t in toks], type=F64),
            "logp_combined": pa.array([t.logp_combined for t in toks], type=F64),
            "topk_uncond": _topk_array([t.topk_uncond for t in toks]),
            "topk_guided": _topk_array([t.topk_guided for t in toks]),
            "topk_combined": _topk_array([t.topk_combined for t in toks]),
            "argmax_changed": pa.array([bool(t.argmax_changed) for t in toks], type=BOOL),
        })
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise RecordError(f"token decisions of {task_id}: bad value ({exc})") from exc


def solutions_table(
    run_id: str, solve: SolveRecord, evaluation: EvaluationRecord | None
) -> pa.Table:
    final = solve.attempts[solve.final_index]
    winner = solve.attempts[solve.winner] if solve.winner is not None else None
    return _table({
        "run_id": (STR, [run_id]),
        "task_id": (STR, [solve.problem.task_id]),
        "code": (STR, [solve.solution]),
        "agent_index": (I32, [final.agent_index]),
        "is_winner": (BOOL, [winner is not None and winner is final]),
        "winner_agent_index": (I32, [winner.agent_index if winner is not None else None]),
        "any_passed_visible": (BOOL, [any(a.passed_visible for a in solve.attempts)]),
        "passed_hidden": (BOOL, [None if evaluation is None else bool(evaluation.passed)]),
    })


def evaluations_table(run_id: str, evaluation: EvaluationRecord) -> pa.Table:
    n = len(evaluation.tests)
    return _table({
        "run_id": (STR, [run_id] * n),
        "task_id": (STR, [evaluation.task_id] * n),
        "test_index": (I32, [t.test_index for t in evaluation.tests]),
        "status": (STR, [t.status for t in evaluation.tests]),
        "error": (STR, [t.error for t in evaluation.tests]),
        "duration_s": (F64, [float(t.duration_s) for t in evaluation.tests]),
        "passed": (BOOL, [bool(evaluation.passed)] * n),
    })


def suite_evaluations_table(
    run_id: str, suite: str, evaluation: EvaluationRecord, *, now: Any
) -> pa.Table:
    """Rows of one problem's final solution scored on another suite's hidden tests.

    Refuses (RecordError) an evaluation without test outcomes (nothing would mark the problem
    evaluated), duplicate test indexes, and a ``passed`` flag that contradicts the outcomes.
    """
    tid = evaluation.task_id
    tests = list(evaluation.tests)
    if not tests:
        raise RecordError(f"{tid} on suite {suite!r}: an evaluation needs at least one test outcome")
    idx = [t.test_index for t in tests]
    if len(set(idx)) != len(idx):
        raise RecordError(f"{tid} on suite {suite!r}: duplicate test indexes {sorted(idx)}")
    all_passed = all(t.status == "passed" for t in tests)
    if bool(evaluation.passed) != all_passed:
        raise RecordError(
            f"{tid} on suite {suite!r}: passed={evaluation.passed} but "
            f"{sum(t.status == 'passed' for t in tests)}/{len(tests)} tests passed")
    n = len(tests)
    return _table({
        "run_id": (STR, [run_id] * n),
        "task_id": (STR, [tid] * n),
        "suite": (STR, [suite] * n),
        "test_index": (I32, idx),
        "status": (STR, [t.status for t in tests]),
        "error": (STR, [t.error for t in tests]),
        "duration_s": (F64, [float(t.duration_s) for t in tests]),
        "passed_problem": (BOOL, [all_passed] * n),
        "evaluated_at": (pa.timestamp("us"), [now] * n),
    })


def attempt_evaluations_table(
    run_id: str, suite: str, task_id: str, scored: Iterable[tuple[int, EvaluationRecord | AttemptScore]], *, now: Any
) -> pa.Table:
    """One row per attempt of one problem: its code scored on ``suite``'s hidden tests.

    ``scored``: (agent_index, evaluation of that attempt's code, or its AttemptScore: a copy of
    an earlier score of the same code).  Refuses (RecordError) an
    evaluation of another task, an agent index twice, and a ``passed`` flag that contradicts
    the outcomes.  An evaluation without outcomes (no code to run) is a failure with 0 tests.
    """
    scored = list(scored)
    idx = [i for i, _ in scored]
    if len(set(idx)) != len(idx):
        raise RecordError(f"{task_id} on suite {suite!r}: agent index twice in {sorted(idx)}")
    cols: dict[str, list[Any]] = {k: [] for k in ("passed", "n_tests", "n_passed", "error", "duration_s")}
    for i, ev in scored:
        if ev.task_id != task_id:
            raise RecordError(f"agent {i}: evaluation of {ev.task_id!r}, expected {task_id!r}")
        score = ev if isinstance(ev, AttemptScore) else AttemptScore.of(ev)
        if bool(score.passed) != (score.n_tests > 0 and score.n_passed == score.n_tests):
            raise RecordError(f"{task_id} agent {i} on suite {suite!r}: passed={score.passed} but "
                              f"{score.n_passed}/{score.n_tests} tests passed")
        cols["passed"].append(bool(score.passed))
        cols["n_tests"].append(score.n_tests)
        cols["n_passed"].append(score.n_passed)
        cols["error"].append(score.error)
        cols["duration_s"].append(score.duration_s)
    n = len(scored)
    return _table({
        "run_id": (STR, [run_id] * n),
        "task_id": (STR, [task_id] * n),
        "agent_index": (I32, idx),
        "suite": (STR, [suite] * n),
        "passed": (BOOL, cols["passed"]),
        "n_tests": (I32, cols["n_tests"]),
        "n_passed": (I32, cols["n_passed"]),
        "error": (STR, cols["error"]),
        "duration_s": (F64, cols["duration_s"]),
        "evaluated_at": (pa.timestamp("us"), [now] * n),
    })


def skipped_rows_table(run_id: str, rows: Iterable[SkippedRow]) -> pa.Table:
    rows = list(rows)
    return _table({
        "run_id": (STR, [run_id] * len(rows)),
        "benchmark": (STR, [r.benchmark for r in rows]),
        "row_id": (STR, [str(r.row_id) for r in rows]),
        "reason": (STR, [r.reason for r in rows]),
    })


def check_solve(solve: SolveRecord, evaluation: EvaluationRecord | None) -> None:
    """Raise RecordError when the record's cross-references do not hold."""
    tid = solve.problem.task_id
    n = len(solve.attempts)
    if n == 0:
        raise RecordError(f"{tid}: a SolveRecord needs at least one attempt")
    if not 0 <= solve.final_index < n:
        raise RecordError(f"{tid}: final_index {solve.final_index} is not an attempt (0..{n - 1})")
    if solve.winner is not None and not 0 <= solve.winner < n:
        raise RecordError(f"{tid}: winner {solve.winner} is not an attempt (0..{n - 1})")
    if evaluation is not None and (evaluation.task_id != tid):
        raise RecordError(
            f"evaluation is for task {evaluation.task_id!r} but the solve record is for {tid!r}"
        )
