"""Scoring: the one final solution of a problem on its hidden tests (never used to choose)."""
from __future__ import annotations

from .records import EvaluationRecord, Problem
from .tracing import run_tests


def evaluate(problem: Problem, solution: str, *, timeout_s: float = 10.0, pool=None) -> EvaluationRecord:
    outcomes = run_tests(solution, problem.hidden_tests, function_name=problem.function_name,
                         setup_code=problem.setup_code, kind=problem.kind, timeout_s=timeout_s,
                         pool=pool) if solution.strip() else []
    passed = bool(outcomes) and all(o.status == "passed" for o in outcomes)
    return EvaluationRecord(task_id=problem.task_id, benchmark=problem.benchmark, passed=passed, tests=outcomes)
