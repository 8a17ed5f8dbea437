"""HumanEval's task context at execution: what a task's prompt defines besides its entry point
(helper functions, imports, constants: ``Problem.setup_code``, problems.prompt_context) is there
when candidates, visible tests and hidden tests run, as in HumanEval's own harness (prompt +
completion); a solution may still redefine it.  Every program runs in the sandbox, through the
paths a run uses: ``evaluation.evaluate`` (hidden tests) and ``tracing.run_traced`` (a candidate
on a visible test)."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from egcfg_core.evaluation import evaluate
from egcfg_core.problems import humaneval_problem_from_row
from egcfg_core.sandbox import SandboxPool
from egcfg_core.tracing import run_traced

REPO = Path(__file__).resolve().parents[1]

# the tasks whose prompt defines a helper besides the entry point
HELPERS = {"HumanEval/10": "is_palindrome", "HumanEval/32": "poly", "HumanEval/38": "encode_cyclic",
           "HumanEval/50": "encode_shift"}

# solutions that call the task's helper without defining it
CALLS_HELPER = {
    "HumanEval/10": ("def make_palindrome(string: str) -> str:\n"
                     "    for i in range(len(string) + 1):\n"
                     "        if is_palindrome(string[i:]):\n"
                     "            return string + string[:i][::-1]\n"),
    "HumanEval/32": ("def find_zero(xs: list):\n"
                     "    lo, hi = -1.0, 1.0\n"
                     "    while poly(xs, lo) * poly(xs, hi) > 0:\n"
                     "        lo, hi = lo * 2, hi * 2\n"
                     "    for _ in range(200):\n"
                     "        mid = (lo + hi) / 2\n"
                     "        if poly(xs, lo) * poly(xs, mid) <= 0:\n"
                     "            hi = mid\n"
                     "        else:\n"
                     "            lo = mid\n"
                     "    return lo\n"),
    "HumanEval/38": "def decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n",
    "HumanEval/50": ("def decode_shift(s: str):\n"  # 25 shifts by 5 = one shift back (mod 26)
                     "    for _ in range(25):\n"
                     "        s = encode_shift(s)\n"
                     "    return s\n"),
}


@pytest.fixture(scope="module")
def check():
    """scripts/check_visible_tests.py as a module (its canonical rows and the all-164 check)."""
    spec = importlib.util.spec_from_file_location("check_visible_tests", REPO / "scripts" / "check_visible_tests.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def rows(check):
    return check.canonical_rows()


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(2) as p:
        yield p


def _problem(rows, task_id):
    return humaneval_problem_from_row(rows[task_id])[0]


def _imports_only(problem):
    """The problem as it was before the task context: setup_code = the prompt's import lines."""
    lines = [ln for ln in problem.setup_code.splitlines() if ln.startswith(("import ", "from "))]
    return replace(problem, setup_code="".join(ln + "\n" for ln in lines))


@pytest.mark.parametrize("task_id", HELPERS)
def test_the_setup_code_holds_the_helper_and_not_the_entry_point(rows, task_id):
    p = _problem(rows, task_id)
    assert f"def {HELPERS[task_id]}(" in p.setup_code
    assert f"def {p.function_name}(" not in p.setup_code
    assert p.setup_code in rows[task_id]["prompt"].lstrip()  # the prompt's own text, in its order


@pytest.mark.parametrize("task_id", HELPERS)
def test_the_canonical_solution_passes_its_hidden_test_without_the_helper(rows, check, pool, task_id):
    """(a) the entry point's def + canonical body (the helper left to the context) passes
    check(); with the imports-only setup of before it failed with a NameError."""
    p, code = _problem(rows, task_id), check.bare_solution(rows[task_id])
    assert f"def {HELPERS[task_id]}(" not in code
    ev = evaluate(p, code, pool=pool)
    assert ev.passed, ev.tests
    before = evaluate(_imports_only(p), code, pool=pool)
    assert not before.passed and f"name '{HELPERS[task_id]}' is not defined" in before.tests[0].error


@pytest.mark.parametrize("task_id", HELPERS)
def test_a_solution_calling_the_helper_passes_hidden_and_visible_tests(rows, pool, task_id):
    """(b) a solution that calls the helper without defining it: scored on check(), and run as a
    candidate (traced) on each visible test."""
    p, code = _problem(rows, task_id), CALLS_HELPER[task_id]
    assert evaluate(p, code, pool=pool).passed
    for test in p.visible_tests:
        r = run_traced(code, test, function_name=p.function_name, setup_code=p.setup_code, pool=pool)
        assert r.status == "passed", (test.source, r.error)


@pytest.mark.parametrize("task_id", HELPERS)
def test_a_solution_that_redefines_the_helper_still_works(rows, pool, task_id):
    """(c) the whole prompt + canonical body (the helper defined again, as models often write it)."""
    p, row = _problem(rows, task_id), rows[task_id]
    assert evaluate(p, row["prompt"] + row["canonical_solution"], pool=pool).passed


def test_the_solutions_own_helper_wins(rows, check, pool):
    """The context runs first, so a solution's own definition of a helper is the one called: a
    wrong is_palindrome makes HumanEval/10's canonical make_palindrome fail."""
    p = _problem(rows, "HumanEval/10")
    wrong = "def is_palindrome(string: str) -> bool:\n    return True\n\n\n" + check.bare_solution(rows["HumanEval/10"])
    assert not evaluate(p, wrong, pool=pool).passed


def test_all_164_canonical_solutions_pass_with_the_context(rows, check, pool):
    """Every task's bare canonical solution passes its hidden tests with its setup_code
    (scripts/check_visible_tests.py --hidden; ~2 s)."""
    problems = [humaneval_problem_from_row(row)[0] for row in rows.values()]
    assert len(problems) == 164
    assert check.hidden_failures(problems, rows, pool) == []
