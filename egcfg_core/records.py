"""Plain records handed between the stages of EG-CFG.

Every stage takes and returns these dataclasses, so any stage can be re-run alone and the
storage layer can persist them without knowing how they were produced.  Nothing here imports
torch, prefect or duckdb.
"""
from __future__ import annotations

import hashlib
import json

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ProblemKind = Literal["function", "stdio"]


@dataclass(frozen=True)
class TestCase:
    """One test of a problem.

    kind "function": ``source`` is a Python statement block (usually one ``assert f(x) == y``;
    for HumanEval's hidden test it is the whole ``check`` program ending in ``check(f)``).
    ``call`` is the bare invocation used for tracing (``f(x)``), or "" when none could be parsed.
    kind "stdio": ``stdin`` is fed to the program and ``expected_stdout`` compared
    (whitespace-normalised).
    """

    __test__ = False  # not a pytest class

    source: str = ""
    call: str = ""
    stdin: str = ""
    expected_stdout: str = ""


@dataclass(frozen=True)
class Problem:
    task_id: str  # e.g. "HumanEval/0", "Mbpp/11"
    benchmark: str  # "humaneval", "humaneval-et", "mbpp", "mbpp-et", "codecontests"
    description: str  # task text shown to the model (HumanEval: the prompt code)
    function_name: str  # entry point; "" for stdio problems
    visible_tests: tuple[TestCase, ...]
    hidden_tests: tuple[TestCase, ...]
    setup_code: str = ""  # prepended to every program run for this problem (imports etc.)
    kind: ProblemKind = "function"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Problem":
        d = dict(d)
        d["visible_tests"] = tuple(TestCase(**t) for t in d["visible_tests"])
        d["hidden_tests"] = tuple(TestCase(**t) for t in d["hidden_tests"])
        return cls(**d)


@dataclass(frozen=True)
class SkippedRow:
    """A dataset row that could not be turned into a Problem, with the reason."""

    benchmark: str
    row_id: str
    reason: str


@dataclass(frozen=True)
class AgentConfig:
    """One EG-CFG agent: temperature t, guidance scale gamma, s candidates of d lines.

    gamma = 0 means no execution signal: with t = 0 the greedy baseline; with t > 0 a *sampler*
    (the ablation: whole functions sampled at temperature t, no guidance; ``replicate`` tells
    samplers of the same t apart, i.e. gives each its own seed).  ``prompt`` is the prompt
    variant (egcfg_core.prompts.PROMPT_VARIANTS); a non-default one is part of the name (so of
    the stored agent_name and the per-line seeds), the default one leaves names as they were.
    """

    t: float = 0.7
    gamma: float = 1.0
    s: int = 3
    d: int = 2
    replicate: int = 0
    prompt: str = "default"

    @property
    def is_baseline(self) -> bool:
        return self.gamma == 0.0 and self.t == 0.0  # BASELINE_SQL says the same of a stored row

    @property
    def is_sampler(self) -> bool:
        return self.gamma == 0.0 and self.t > 0.0  # SAMPLER_SQL

    @property
    def name(self) -> str:
        if self.is_baseline:
            base = "greedy"
        elif self.is_sampler:
            base = f"sample_t{self.t:g}_r{self.replicate}"
        else:
            base = f"t{self.t:g}_g{self.gamma:g}_s{self.s}_d{self.d}"
        return base if self.prompt == "default" else f"{base}_{self.prompt}"


@dataclass
class ExecutionRecord:
    """One executable candidate run against one visible test (inside the sandbox)."""

    candidate_index: int
    test_index: int
    status: str  # "passed", "failed", "error", "timeout", "memory", "killed"
    error: str  # "" or "ExcType: message"
    trace_text: str  # bounded, deterministic rendering
    trace: dict[str, Any]  # structured trace (JSON-serialisable)
    duration_s: float


@dataclass
class CandidateRecord:
    index: int
    raw_text: str  # the sampled continuation (d lines)
    executable: str | None  # extract_executable(prefix + raw_text); None when nothing runs
    duplicate_of: int | None = None  # index of an earlier candidate with the same executable
    executions: list[ExecutionRecord] = field(default_factory=list)
    # decode.carry_drafts: the line where this draft was sampled and executed (it began with the
    # lines written since; raw_text is its rest, its executions are that line's); None = sampled here
    carried_from: int | None = None


@dataclass
class TokenDecision:
    """One generated token and what each distribution thought of it."""

    position: int  # index of the token in the attempt's generated code
    token_id: int
    token_text: str
    gamma: float
    logp_uncond: float  # log M(w | p_sol) of the chosen token
    logp_guided: float  # log M(w | p_dyn) (== logp_uncond when the line has no signal)
    logp_combined: float  # the CFG distribution actually decoded from
    topk_uncond: list[tuple[int, float]]
    topk_guided: list[tuple[int, float]]
    topk_combined: list[tuple[int, float]]
    argmax_changed: bool  # the chosen token is not the unguided argmax (guidance; or a sampler's draw)


@dataclass
class LineRecord:
    line_index: int
    prefix: str  # the code before this line
    signal_text: str  # the signal block used for this line ("" = no guidance)
    candidates: list[CandidateRecord]
    chosen_text: str  # the line actually written (ends with "\n" unless the code stopped)
    tokens: list[TokenDecision]
    timings: dict[str, float]  # sample_s, execute_s, prefill_s, decode_s
    # the rule that spared the line exploration ('header', 'fence', 'ahead', 'confident') or
    # guidance ('agree': explored, no signal); "" = the line ran the method
    skip_rule: str = ""
    # what the line cost (compute.FIELDS: tokens, forward passes, sandbox runs, seconds); {} = not measured
    compute: dict[str, float] = field(default_factory=dict)


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest class

    test_index: int
    status: str  # "passed", "failed", "error", "timeout", "memory", "killed"
    error: str
    duration_s: float


@dataclass
class AttemptRecord:
    agent_index: int
    agent: AgentConfig
    code: str  # the final function (setup code not included)
    stop_reason: str  # "fence", "eos", "dedent", "token_cap", "line_cap", "verified", "cancelled", "error"
    lines: list[LineRecord]
    visible: list[TestOutcome]
    passed_visible: bool
    timings: dict[str, float]
    error: str = ""
    # set when a verified candidate ended the attempt (stop_reason "verified", DecodeSettings.
    # accept_verified): its line and candidate index; ``code`` is that candidate's function
    verified_line: int | None = None
    verified_candidate: int | None = None
    # the run whose identical greedy attempt this is (copied, not decoded again: config.greedy_key);
    # its lines are that run's, copied by the store
    reused_from: str | None = None
    # what the attempt cost (compute.ATTEMPT_FIELDS), its lines and the final visible-test run
    # included; {} = not measured.  A copied attempt carries what it cost in the run it came from.
    compute: dict[str, float] = field(default_factory=dict)


@dataclass
class SolveRecord:
    problem: Problem
    attempts: list[AttemptRecord]
    winner: int | None  # index into attempts of the first agent that passed all visible tests
    final_index: int  # index into attempts of the final solution (winner, else best on visible)
    solution: str
    wall_s: float
    isolation: str = ""  # the sandbox isolation its code ran under (SandboxPool.isolation); "" unknown

    @property
    def final(self) -> AttemptRecord:
        return self.attempts[self.final_index]


@dataclass
class EvaluationRecord:
    """The final solution scored on the hidden tests (never used to choose anything)."""

    task_id: str
    benchmark: str
    passed: bool
    tests: list[TestOutcome]


@dataclass(frozen=True)
class AttemptScore:
    """One attempt's code scored on a suite's hidden tests, summed up (an ``attempt_evaluations``
    row): what an EvaluationRecord of that code gives, or a copy of an earlier one of the same code."""

    task_id: str
    passed: bool
    n_tests: int
    n_passed: int
    error: str  # '' or the first failing test's 'status: error'
    duration_s: float

    @classmethod
    def of(cls, ev: EvaluationRecord) -> "AttemptScore":
        ok = [t.status == "passed" for t in ev.tests]
        bad = next((t for t in ev.tests if t.status != "passed"), None)
        return cls(ev.task_id, bool(ev.passed), len(ok), sum(ok),
                   "" if bad is None else f"{bad.status}: {bad.error}"[:500],
                   float(sum(t.duration_s for t in ev.tests)))


# ---- the rules above as SQL conditions on an attempts row (storage and reports use these) ------


def baseline_sql(alias: str = "") -> str:
    """``AgentConfig.is_baseline`` of an attempts row (``alias.`` prefixed when given)."""
    a = f"{alias}." if alias else ""
    return f"({a}gamma = 0 AND {a}t = 0)"


def sampler_sql(alias: str = "") -> str:
    """``AgentConfig.is_sampler`` of an attempts row."""
    a = f"{alias}." if alias else ""
    return f"({a}gamma = 0 AND {a}t > 0)"


# ---- run identity: a run id is the hash of its config (SweepConfig.semantic(), a runs row) -----


def canonical_json(config: dict[str, Any]) -> str:
    """Stable JSON of a config: sorted keys, no spaces. Raises ValueError if not JSON."""
    if not isinstance(config, dict):
        raise ValueError(f"a run config must be a dict, got {type(config).__name__}")
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run config is not JSON-serialisable: {exc}") from exc


def config_hash(config: dict[str, Any]) -> str:
    """The run id of a config: first 12 hex digits of sha256 of its canonical JSON.

    Note 1 and 1.0 are different JSON, so keep config values typed consistently.
    """
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()[:12]


def read_remote_records(folder, on_truncated=None):
    """Every (SolveRecord, EvaluationRecord, wall_s) that scripts/remote_sweep.py appended to
    FOLDER/worker-*.pkl.gz (one gzip member per whole problem).  A truncated last member (a worker
    killed mid-write) ends that file's records; ``on_truncated(path, error)`` is told.  Trusted
    input only: these are pickles this project wrote."""
    import gzip
    import pickle
    from pathlib import Path

    for path in sorted(Path(folder).glob("worker-*.pkl.gz")):
        with gzip.open(path, "rb") as f:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    break
                except (OSError, pickle.UnpicklingError) as e:
                    if on_truncated is not None:
                        on_truncated(path, e)
                    break
