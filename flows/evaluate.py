"""Flow: score the stored FINAL solutions of a finished run on another suite's hidden tests.

An MBPP run's solutions on MBPP-ET's extended tests, a HumanEval run's on HumanEval-ET: the
tasks (and their visible tests) are the same, so EG-CFG's solutions would be identical and
nothing is re-generated.  Honest evaluation: the suite's tests only score the one final
solution already stored for each problem; they never choose anything.

Reading top to bottom: check the suite against the run's task ids, load the suite's problems
for those ids, skip what is already scored for this suite (resumable), score each remaining
final solution in the sandbox, commit each problem's rows in one transaction.

Code that was already scored on the suite's tests (the same code of the same task under the same
per-test timeout: a greedy attempt copied into a sampling run, a final solution that is one of
the run's attempts), in this store or in the stores and results folders given as ``reuse_from``,
is copied from there, not run again (``Known``); each identical code of one problem runs once.
"""
from __future__ import annotations

import time
from pathlib import Path

from prefect import flow
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from egcfg_core.problems import BENCHMARKS, load_problems
from egcfg_core.records import AttemptScore, EvaluationRecord, Problem, TestOutcome
from storage.readers import open_stores, scores_of_code
from storage.store import Store, StoreError
from tasks.evaluate import evaluate_task

from . import progress
from .runtime import get_pool

__all__ = ["SuiteError", "UnknownSuiteError", "SuiteMismatchError", "evaluate_flow",
           "suite_family", "EMPTY_SOLUTION_ERROR"]

# The task-id family of each suite: suites of one family share task ids ("Mbpp/11" in mbpp and
# mbpp-et), so a run on one can be scored on the other.
_FAMILIES = {"mbpp": "Mbpp/", "mbpp-et": "Mbpp/", "humaneval": "HumanEval/",
             "humaneval-et": "HumanEval/", "codecontests": "CodeContests/"}
EMPTY_SOLUTION_ERROR = "no code: the stored final solution is empty"
DEFAULT_TIMEOUT_S = 10.0


class SuiteError(ValueError):
    """A suite cannot score this run (the message says why)."""


class UnknownSuiteError(SuiteError):
    """The suite is not a benchmark name egcfg knows."""


class SuiteMismatchError(SuiteError):
    """The suite's task ids are not the run's (e.g. codecontests for an MBPP run)."""


def suite_family(suite: str) -> str:
    """The task-id prefix of a suite ('mbpp-et' -> 'Mbpp/'); UnknownSuiteError otherwise."""
    key = suite.strip().lower() if isinstance(suite, str) else suite
    if key not in _FAMILIES:
        raise UnknownSuiteError(f"unknown suite {suite!r}; valid: {', '.join(BENCHMARKS)}")
    return _FAMILIES[key]


class Known:
    """Scores already made of code on a suite's hidden tests (``readers.scores_of_code`` of each
    source), keyed by (task, code, timeout): the same code scores the same, so it is copied, the
    run's own earlier score first (``run_id``), else the first source's.  An entry whose number
    of tests is not the suite's for that task (other data) is not used."""

    def __init__(self, sources: list[tuple[dict, dict]], timeout_s: float, run_id: str = ""):
        self.sources, self.timeout, self.run_id = sources, float(timeout_s), run_id

    def _found(self, which: int, key: tuple, fits) -> list:
        """The scores of ``key`` in the sources that ``fits`` accepts, the run's own first."""
        found = [(run, v) for src in self.sources for run, v in src[which].get(key, {}).items() if fits(v)]
        return [v for run, v in found if run == self.run_id] + [v for run, v in found if run != self.run_id]

    @classmethod
    def gather(cls, store: Store, reuse_from: list[str], suite: str, task_ids: list[str],
               timeout_s: float, run_id: str = "") -> "Known":
        sources = [store.scores_of_code(suite, task_ids)]
        for path in reuse_from:
            if Path(path).resolve() == Path(store.path).resolve():
                continue  # the store itself is read above
            con = open_stores([path])
            try:
                sources.append(scores_of_code(con, suite, task_ids))
            finally:
                con.close()
        return cls(sources, timeout_s, run_id)

    def tests(self, problem: Problem, code: str) -> EvaluationRecord | None:
        """The per-test outcomes of ``code`` on ``problem``'s tests, when some source has them."""
        n = len(problem.hidden_tests)
        found = self._found(0, (problem.task_id, code, self.timeout),
                            lambda outcomes: [o[0] for o in outcomes] == list(range(n)))
        if not found:
            return None
        out = [TestOutcome(int(i), st, err, float(d)) for i, st, err, d in found[0]]
        return EvaluationRecord(problem.task_id, problem.benchmark, all(o.status == "passed" for o in out), out)

    def score(self, problem: Problem, code: str) -> AttemptScore | None:
        """``code``'s score on ``problem``'s tests (from per-test outcomes or a summary)."""
        if (ev := self.tests(problem, code)) is not None:
            return AttemptScore.of(ev)
        n = len(problem.hidden_tests)
        found = self._found(1, (problem.task_id, code, self.timeout), lambda row: row[1] == n)
        return AttemptScore(problem.task_id, *found[0]) if found else None


def _score(problem: Problem, code: str, timeout_s: float, pool) -> EvaluationRecord:
    if not code.strip():
        # Nothing to run: every test of the suite is recorded as failed, so the problem counts
        # as evaluated (and failed) instead of having no rows.
        return EvaluationRecord(problem.task_id, problem.benchmark, False,
                                [TestOutcome(i, "error", EMPTY_SOLUTION_ERROR, 0.0)
                                 for i in range(len(problem.hidden_tests))])
    return evaluate_task(problem, code, timeout_s=timeout_s, pool=pool)


def _run_info(store: Store, run_id: str) -> tuple[str, dict]:
    config = store.run_config(run_id)
    return str(config.get("benchmark", "?")), config


def _score_attempts(store: Store, run_id: str, suite: str, problems: dict[str, Problem],
                    timeout: float, pool, workers: int, known: Known) -> dict:
    """The paper-protocol scoring: EVERY stored attempt's code of the done problems on the
    suite's hidden tests (resumable per attempt; one transaction per problem).  Never chooses.
    Code scored before (``known``) is copied; identical code of one problem is run once."""
    by_task: dict[str, list[tuple[int, str]]] = {}
    for task_id, agent, code in store.attempt_codes(run_id):
        if task_id in problems:
            by_task.setdefault(task_id, []).append((agent, code))
    done = store.attempt_suite_done(run_id, suite)
    todo = {t: [(a, c) for a, c in items if (t, a) not in done] for t, items in by_task.items()}
    todo = {t: items for t, items in todo.items() if items}
    progress.emit("suite_start", run_id=run_id, suite=suite, total=len(by_task),
                  done=len(by_task) - len(todo), todo=len(todo), skipped=0)
    scored = reused = 0
    runner = ThreadPoolTaskRunner(max_workers=workers) if workers > 1 else None
    for task_id in sorted(todo):
        t0 = time.perf_counter()
        p, items = problems[task_id], todo[task_id]
        by_code: dict[str, AttemptScore | EvaluationRecord | None] = {c: known.score(p, c) for _, c in items}
        reused += sum(by_code[c] is not None for _, c in items)
        fresh = [c for c, sc in by_code.items() if sc is None]
        if runner is None or len(fresh) < 2:
            by_code.update({c: _score(p, c, timeout, pool) for c in fresh})
        else:
            with runner:
                futs = {c: runner.submit(evaluate_task, parameters=dict(
                    problem=p, solution=c, timeout_s=timeout, pool=pool)) for c in fresh if c.strip()}
                by_code.update({c: f.result() for c, f in futs.items()})
            by_code.update({c: _score(p, c, timeout, pool) for c in fresh if not c.strip()})
        evs = [(a, by_code[c]) for a, c in items]
        store.write_attempt_evaluations(run_id, suite, task_id, evs)
        scored += len(evs)
        progress.emit("suite_done", task_id=task_id, passed=any(ev.passed for _, ev in evs),
                      tests=len(p.hidden_tests), wall_s=time.perf_counter() - t0)
    tasks, any_passed = store.suite_tasks_any_passed(run_id, suite)
    return {"attempts_scored": scored, "reused": reused, "tasks_scored": tasks, "tasks_any_passed": any_passed}


@flow(name="egcfg-evaluate-suite", validate_parameters=False)
def evaluate_flow(db: str, run_id: str, suite: str, data_dir: str | None = None, *,
                  timeout_s: float | None = None, workers: int = 1, attempts: bool = False,
                  reuse_from: list[str] | None = None) -> dict:
    """Score run ``run_id``'s stored final solutions on ``suite``'s hidden tests (resumable).

    ``suite``: a benchmark name ('mbpp-et', 'humaneval-et', ...).  ``data_dir``: where the
    suite's files are (None: $EGCFG_DATA_DIR, else the hub).  ``timeout_s``: per test (default:
    the run's eval_timeout_s).  ``workers``: problems scored concurrently.

    Returns ``{evaluated, passed, skipped, already_done}`` for this call (``skipped``: done
    problems of the run that the suite lacks, e.g. HumanEval-ET's 6 missing tasks), plus
    ``run_id``, ``suite``, ``skipped_task_ids`` and the suite's totals over every call so far
    (``total_evaluated``, ``total_passed``).
    Raises UnknownSuiteError / SuiteMismatchError (ValueError), StoreError for an unknown run,
    DataUnavailableError when the suite's data is missing.

    ``attempts=True`` scores every stored attempt instead of the final solutions (the
    paper-protocol figure: a task counts when ANY attempt passes); ``suite`` may then be the
    run's own benchmark.  It returns ``attempts_scored`` (now), ``tasks_scored`` and
    ``tasks_any_passed`` (over every call so far) besides ``run_id``, ``suite``, ``skipped``
    and ``skipped_task_ids``.

    Code already scored on the suite under the same timeout, by any run of this store or of the
    stores and results folders in ``reuse_from``, is copied rather than run (``reused``: how
    many of this call's solutions or attempts were).
    """
    family = suite_family(suite)
    suite = suite.strip().lower()
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    with Store(db) as store:
        run_benchmark, config = _run_info(store, run_id)
        timeout = float(timeout_s if timeout_s is not None else config.get("eval_timeout_s", DEFAULT_TIMEOUT_S))
        solutions = dict(store.final_solutions(run_id))
        if not solutions:
            raise StoreError(f"run {run_id!r} has no done problem with a final solution to evaluate")
        ours = [t for t in solutions if t.startswith(family)]
        if not ours:
            sample = ", ".join(sorted(solutions)[:3])
            raise SuiteMismatchError(
                f"suite {suite!r} has task ids {family}N, but run {run_id!r} ({run_benchmark}) has "
                f"{sample}{' ...' if len(solutions) > 3 else ''}: its solutions cannot be scored on it")
        try:
            loaded = load_problems(suite, data_dir=data_dir or None, task_ids=ours)
        except ValueError as e:  # ids of the run that the suite's dataset does not have at all
            raise SuiteMismatchError(f"suite {suite!r} does not hold the tasks of run {run_id!r}: {e}") from e
        problems = {p.task_id: p for p in loaded.problems}
        skipped = sorted(set(solutions) - set(problems))
        known = Known.gather(store, list(reuse_from or []), suite, sorted(problems), timeout, run_id)
        if attempts:
            res = _score_attempts(store, run_id, suite, problems, timeout, get_pool(), workers, known)
            progress.emit("suite_end", run_id=run_id, suite=suite)
            return {**res, "run_id": run_id, "suite": suite, "skipped": len(skipped),
                    "skipped_task_ids": skipped}
        done = store.suite_done_task_ids(run_id, suite)
        todo = [p for p in loaded.problems if p.task_id not in done]
        already = len(problems) - len(todo)
        progress.emit("suite_start", run_id=run_id, suite=suite, total=len(problems),
                      done=already, todo=len(todo), skipped=len(skipped))
        pool = get_pool()
        evaluated = passed = 0
        copies = {p.task_id: ev for p in todo if (ev := known.tests(p, solutions[p.task_id])) is not None}
        todo = [p for p in todo if p.task_id not in copies]

        def record(ev: EvaluationRecord, t0: float) -> None:
            nonlocal evaluated, passed
            store.write_suite_evaluation(run_id, suite, ev)
            evaluated += 1
            passed += bool(ev.passed)
            progress.emit("suite_done", task_id=ev.task_id, passed=bool(ev.passed),
                          tests=len(ev.tests), wall_s=time.perf_counter() - t0)

        for ev in copies.values():
            record(ev, time.perf_counter())
        if workers == 1:
            for p in todo:
                t0 = time.perf_counter()
                record(_score(p, solutions[p.task_id], timeout, pool), t0)
        else:
            runner = ThreadPoolTaskRunner(max_workers=workers)
            with runner:
                t0 = time.perf_counter()
                futures = [runner.submit(evaluate_task, parameters=dict(
                    problem=p, solution=solutions[p.task_id], timeout_s=timeout, pool=pool))
                    for p in todo if solutions[p.task_id].strip()]
                for p in todo:  # empty solutions: nothing to run
                    if not solutions[p.task_id].strip():
                        record(_score(p, "", timeout, pool), t0)
                for fut in as_completed(futures):
                    record(fut.result(), t0)
        totals = store.suite_status(run_id).get(suite, (0, 0))
    progress.emit("suite_end", run_id=run_id, suite=suite)
    return {"evaluated": evaluated, "reused": len(copies), "passed": passed, "skipped": len(skipped),
            "already_done": already, "run_id": run_id, "suite": suite,
            "skipped_task_ids": skipped, "total_evaluated": totals[0], "total_passed": totals[1]}
