"""The EG-CFG line-by-line decoder: one agent writing one function.

For every new line of the solution (seed document, sections 2.2-4):

  1. explore    sample s candidate continuations of d lines at temperature t from p_sol
  2. executable ĉ_j = extract_executable(prefix + c_j), deduplicated by their executable form
  3. execute    run each ĉ_j on each visible test in the sandbox, tracing lines/vars/calls/errors
  4. signal     render the traces into p_signal; p_dyn = [p_sol head, p_signal, p_sol tail]
  5. guide      write the line token by token from
                    log M(w|p_sol) + γ·(log M(w|p_dyn) − log M(w|p_sol))
                holding the signal fixed until the line's newline.

The p_sol stream lives for the whole attempt.  The p_dyn stream is rebuilt once per line from a
fork of the prompt head it shares with p_inst (prefilled once per problem), so only the signal, the
assistant header and the code so far are prefilled.  γ = 0 is plain greedy decoding (or, with
t > 0, plain sampling: the no-guidance ablation).

The model is an engine (``engines/``: transformers, llama.cpp, an OpenAI-compatible server); this
loop only uses the protocol of ``engines/base.py`` and does not know which engine runs.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import torch
from transformers import TemperatureLogitsWarper, TopPLogitsWarper

from . import compute, threadsafe_ast
from .executable import extract_executable
from .guidance import PlausibilityMask, cfg_logprobs, topk_pairs
from .prompts import PromptParts, render_signal
from .records import AgentConfig, AttemptRecord, CandidateRecord, ExecutionRecord, LineRecord, Problem, TokenDecision
from .engines.base import FENCE, Engine
from .tracing import run_tests, run_traced


# Set when the whole process is being interrupted (Ctrl-C, SIGTERM): every running attempt stops
# at its next token or line as if cancelled, so threads solving other problems end at once; the
# sweep commits none of what they return.  A new sweep clears it.
SHUTDOWN = threading.Event()

@dataclass(frozen=True)
class DecodeSettings:
    """Limits and switches of one decoding run (recorded in the run's config)."""

    max_new_tokens: int = 384  # token cap of one attempt
    max_lines: int = 40
    candidate_tokens_per_line: int = 32  # token cap of a candidate = d * this
    top_p: float = 0.95  # candidate sampling
    exec_timeout_s: float = 2.0  # per traced candidate execution
    test_timeout_s: float = 5.0  # per visible-test run of a finished attempt
    exec_workers: int = 2  # concurrent sandboxed executions
    signal_max_chars: int = 2000  # ~600 tokens: the p_dyn prefill is a large share of each line; 0 = no limit
    plausibility_alpha: float = 0.05  # keep tokens with p_uncond >= alpha * max p_uncond; 0 = off
    plausibility_top_k: int = 0
    record_topk: int = 5
    batch_streams: bool = True  # advance p_sol and p_dyn with one batched forward (where the engine can)
    seed: int = 0
    # issue 10, on by default since its dev-split measurement (docs/CONFIG.md "Decode settings"); at the
    # values runs had before them (config.LEGACY_DECODE) they are left out of the run id
    signal_format: str = "v2"  # prompts.SIGNAL_FORMATS: "v2" = code so far once, best draft last
    accept_verified: bool = True  # end the attempt with a candidate that is a whole function passing every visible test
    skip_certain: str = "header,fence,agree,ahead"  # comma list of SKIP_RULES: lines decoded unguided, without exploring
    # a line whose greedy tokens all have unguided probability >= this is written unguided without
    # exploring (found by decoding it on a fork of p_sol, abandoned at the first token below); 0 = off
    skip_confident: float = 0.0
    # issue 29 (the paper preset): drafts run on to the end of the function (the closing fence,
    # EOS or max_new_tokens) whatever d is, as the authors' local code does; d still names the agent
    drafts_to_end: bool = False
    # issue 29 part 5: a draft of line k that began with the line written there is already a
    # sampled, executed draft of line k+1 (the same program, its traces too): it counts towards
    # line k+1's s drafts, and only the rest are sampled and run
    carry_drafts: bool = False


@dataclass
class Head:
    """What every agent of one problem shares: the prompt split and the prefilled prompt head."""

    parts: PromptParts
    head_ids: list[int]
    tail_ids: list[int]
    stream: object  # the engine's stream of head_ids; agents fork it
    _charged: bool = field(default=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def build(cls, lm: Engine, parts: PromptParts) -> "Head":
        head_ids, tail_ids = lm.encode(parts.head), lm.encode(parts.tail)
        return cls(parts, head_ids, tail_ids, lm.start(head_ids))

    def take_prefill(self) -> int:
        """The head's prefill in tokens for the first attempt that starts from it, then 0 (its
        cost is charged once: compute.ATTEMPT_FIELDS['head_prefill_tokens'])."""
        with self._lock:
            charged, self._charged = self._charged, True
        return 0 if charged else len(self.head_ids)


# Lines where the signal is not needed (issue 10 part 3), each rule a prediction that the guided
# line would equal the unguided one:
#   header  the first line (the `def` line, whose name and arguments the prompt's tests fix)
#   fence   the unguided stream's next token closes the code block (the function is done)
#   agree   every candidate starts with the same line (exploration done, execution kept for
#           verified candidates; only the p_dyn prefill and guided decoding are skipped)
#   ahead   the previous line's candidates (d >= 2) all began with the line just written and all
#           agree on the next one too: that next line is an `agree` line seen one line early, so
#           it is not explored at all (no sampling, no execution, no p_dyn)
# and, by threshold (``skip_confident`` = τ > 0): the line the unguided stream writes greedily has
# every token at probability >= τ (decided by writing it on a fork of p_sol, given up at the first
# token below τ, so an uncertain line costs only the tokens up to its first doubt)
SKIP_RULES = ("header", "fence", "agree", "ahead")


def skip_rules(spec: str) -> frozenset[str]:
    """The rules of a ``skip_certain`` setting; ValueError naming an unknown one."""
    rules = frozenset(r.strip() for r in spec.split(",") if r.strip())
    unknown = sorted(rules - set(SKIP_RULES))
    if unknown:
        raise ValueError(f"skip_certain: unknown rule(s) {', '.join(unknown)} (known: {', '.join(SKIP_RULES)})")
    return rules


def line_seed(base: int, task_id: str, agent: AgentConfig, line_index: int) -> int:
    """Deterministic seed per (problem, agent, line): resumed runs reproduce uninterrupted ones."""
    key = f"{base}|{task_id}|{agent.name}|{line_index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little")


_TOP_LEVEL_OK = re.compile(r"^(def |async def |class |import |from |@|#|\s|$)")


def finished_function(code: str, problem: Problem) -> tuple[str, str] | None:
    """(code, reason) when the text so far ends the function, else None.

    Ends at a closing fence, or (function problems) at the first top-level statement after the
    target function has been defined (e.g. a test call or a print): that line is dropped.
    """
    if FENCE in code:
        return code.split(FENCE, 1)[0], "fence"
    if problem.kind != "function":
        return None
    lines = code.split("\n")
    if len(lines) < 2:
        return None
    defined = False
    for i, line in enumerate(lines[:-1]):  # complete lines only
        if defined and not _TOP_LEVEL_OK.match(line):
            return "\n".join(lines[:i]) + "\n", "dedent"
        if re.match(rf"^(async\s+)?def\s+{re.escape(problem.function_name)}\s*\(", line):
            defined = True
    return None


def whole_function(prefix: str, raw: str, problem: Problem) -> str | None:
    """The code of ``prefix + raw`` when it is a whole function, else None.

    Whole means: it defines ``problem.function_name`` at top level, compiles exactly as written
    (no trimmed tail, no ``pass`` that extract_executable had to add to close an open block), and
    is finished: the text ends the function (a closing fence, or a top-level statement after it,
    as ``finished_function`` says), or the function's last statement is a ``return``/``raise`` at
    the top of its body on a line the candidate completed (nothing after it could run).
    """
    if problem.kind != "function":
        return None
    done = finished_function(prefix + raw, problem)
    src = done[0] if done else prefix + raw
    if not src.strip() or (done is None and not src.endswith("\n")):
        return None  # a line cut by the token cap may still parse (`return x` of `return x[1:]`)
    exe = extract_executable(src)
    if exe is None or exe.rstrip() != src.rstrip():
        return None
    try:
        tree = threadsafe_ast.parse(src)
    except (SyntaxError, ValueError):
        return None
    fn = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == problem.function_name), None)
    if fn is None:
        return None
    if done is None and not isinstance(fn.body[-1], (ast.Return, ast.Raise)):
        return None
    return src.rstrip() + "\n"


def number_candidates(cands: list[CandidateRecord]) -> list[CandidateRecord]:
    """Number candidates by their position (their executions follow) and mark each whose program
    an earlier one already has: ``duplicate_of`` is that one's index (it is not run again)."""
    first: dict[str, int] = {}
    for k, c in enumerate(cands):
        c.index, c.duplicate_of = k, None
        if c.executable is not None and (j := first.setdefault(c.executable, k)) != k:
            c.duplicate_of = j
        for e in c.executions:
            e.candidate_index = k
    return cands


def verified_candidate(cands: list[CandidateRecord], prefix: str, problem: Problem,
                       ) -> tuple[CandidateRecord, str] | None:
    """The first candidate (by index) that is a whole function and passed every visible test."""
    n = len(problem.visible_tests)
    for c in cands:
        if c.executable is None or c.duplicate_of is not None or len(c.executions) != n:
            continue
        if n and all(e.status == "passed" for e in c.executions):
            code = whole_function(prefix, c.raw_text, problem)
            if code is not None:
                return c, code
    return None


class Attempt:
    """One agent's attempt at one problem (the line loop lives in ``run``)."""

    def __init__(self, lm: Engine, problem: Problem, head: Head, agent: AgentConfig, agent_index: int,
                 settings: DecodeSettings, *, pool=None, cancel: threading.Event | None = None,
                 on_line: Callable[[LineRecord], None] | None = None):
        self.lm, self.problem, self.head, self.agent = lm, problem, head, agent
        self.agent_index, self.settings, self.pool = agent_index, settings, pool
        self.cancel = cancel or threading.Event()
        self.on_line = on_line
        self.mask = PlausibilityMask(settings.plausibility_alpha, settings.plausibility_top_k)
        self.skip = skip_rules(settings.skip_certain)
        self.carried: list[CandidateRecord] = []  # drafts of earlier lines that go on from here (carry_drafts)
        self._streams: dict[str, object] = {}  # the engine streams the loop holds now (``loop`` frees them on an error)

    # ---- steps 1-4: explore, make executable, execute, build the signal ------------------------
    def explore(self, sol, prefix: str, line_index: int, n: int | None = None) -> list[CandidateRecord]:
        """``n`` (default s) drafts of the next d lines, made executable and deduplicated."""
        a, st = self.agent, self.settings
        lines, cap = (st.max_lines, st.max_new_tokens) if st.drafts_to_end else (a.d, a.d * st.candidate_tokens_per_line)
        rows = self.lm.sample(sol, n=a.s if n is None else n, temperature=a.t, top_p=st.top_p, lines=lines,
                              max_new_tokens=cap, seed=line_seed(st.seed, self.problem.task_id, a, line_index))
        compute.add(sampled_tokens=sum(map(len, rows)))
        cands = []
        for row in rows:
            raw = self.lm.decode(row)
            raw = "\n".join(raw.split("\n")[:lines]) + ("\n" if raw.count("\n") >= lines else "")
            cands.append(CandidateRecord(index=0, raw_text=raw,
                                         executable=extract_executable(prefix + raw.split(FENCE, 1)[0])))
        return number_candidates(cands)

    def execute(self, cands: list[CandidateRecord]) -> None:
        p = self.problem
        jobs = [(c, k, t) for c in cands if c.executable is not None and c.duplicate_of is None
                for k, t in enumerate(p.visible_tests)]

        def run(job):
            c, k, test = job
            r = run_traced(c.executable, test, function_name=p.function_name, setup_code=p.setup_code,
                           timeout_s=self.settings.exec_timeout_s, pool=self.pool)
            return c, ExecutionRecord(candidate_index=c.index, test_index=k, status=r.status, error=r.error,
                                      trace_text="", trace=r.trace, duration_s=r.duration_s)

        with ThreadPoolExecutor(max_workers=max(1, self.settings.exec_workers)) as ex:
            for c, rec in ex.map(compute.carry(run), jobs):  # their sandbox runs count on this attempt
                c.executions.append(rec)
        from .tracing import render_trace

        for c in cands:
            for e in c.executions:
                e.trace_text = render_trace(e.trace) if e.trace else ""

    def build_signal(self, sol, prefix: str, line_index: int,
                     timings: dict[str, float]) -> tuple[list[CandidateRecord], str]:
        """Steps 1-4 for one line: the candidates and the signal block ("" = no guidance).
        With ``carry_drafts``, ``self.carried`` holds drafts of earlier lines that began with the
        lines written since, already executed: they come first and only s minus them are sampled."""
        if self.agent.gamma == 0 or not self.problem.visible_tests:
            return [], ""
        cands = list(self.carried[:self.agent.s])
        if len(cands) < self.agent.s:
            t0 = time.perf_counter()
            new = (self.explore(sol, prefix, line_index, n=self.agent.s - len(cands)) if cands
                   else self.explore(sol, prefix, line_index))
            timings["sample_s"] = time.perf_counter() - t0
            number_candidates(cands + new)  # after the carried drafts, deduplicated against them too
            t0 = time.perf_counter()
            self.execute(new)
            timings["execute_s"] = time.perf_counter() - t0
            cands += new
        return cands, self.render(cands, prefix)

    @staticmethod
    def carry(cands: list[CandidateRecord], written: str, line_index: int) -> list[CandidateRecord]:
        """The drafts among ``cands`` that began with the line just ``written`` and hold at least
        one more complete line, as drafts of the next line: their rest, a sample of what follows
        the written line as a fresh draft would be (one line shorter), and the same program, so
        the same executions. Numbered from 0 in their order; ``carried_from`` keeps the line where
        each was sampled and run."""
        out = []
        for c in cands:
            rest = c.raw_text[len(written):]
            if (not written.endswith("\n") or not c.raw_text.startswith(written) or "\n" not in rest
                    or not rest.split("\n", 1)[0].strip()):
                continue
            out.append(CandidateRecord(index=0, raw_text=rest, executable=c.executable,
                                       executions=[dataclasses.replace(e) for e in c.executions],
                                       carried_from=line_index if c.carried_from is None else c.carried_from))
        return number_candidates(out)

    def render(self, cands: list[CandidateRecord], prefix: str) -> str:
        """The signal block of executed candidates, in the run's signal format."""
        st = self.settings
        complete = [c.index for c in cands if c.executable is not None
                    and whole_function(prefix, c.raw_text, self.problem) is not None] if st.signal_format == "v2" else []
        return render_signal(cands, self.problem.visible_tests, max_chars=st.signal_max_chars,
                             format=st.signal_format, prefix=prefix, complete=complete)

    def certain(self, line_index: int, logits_u: torch.Tensor, foreseen: bool = False) -> str:
        """The skip rule (``header``/``fence``/``ahead``) that makes this line's exploration moot,
        or "".  ``foreseen``: the previous line's candidates agreed on this line (``ahead``)."""
        if "header" in self.skip and line_index == 0:
            return "header"
        if "ahead" in self.skip and foreseen:
            return "ahead"
        if "fence" in self.skip:
            top = int(logits_u.argmax())
            if top in self.lm.eos_ids or FENCE in self.lm.token_text(top):
                return "fence"
        return ""

    @staticmethod
    def agree(cands: list[CandidateRecord]) -> bool:
        """Every candidate starts with the same (non-empty) line."""
        firsts = {c.raw_text.split("\n", 1)[0].rstrip() for c in cands}
        return len(cands) > 1 and len(firsts) == 1 and bool(next(iter(firsts)).strip())

    @staticmethod
    def ahead(cands: list[CandidateRecord], written: str) -> bool:
        """Every candidate has two complete lines, began with the line just ``written`` and
        continues with the same non-empty line: the next line is foreseen (the ``ahead`` rule).
        A draft carried from an earlier line (``carry_drafts``) that holds a single complete line
        was sampled no further than this line: it neither confirms nor vetoes the next one, and is
        left out (at least two drafts must remain)."""
        cands = [c for c in cands if c.carried_from is None or len(c.raw_text.split("\n")) >= 3]
        if len(cands) < 2:
            return False
        firsts, seconds = set(), set()
        for c in cands:
            rows = c.raw_text.split("\n")
            if len(rows) < 3:  # fewer than two complete lines (d = 1, a fence, the token cap)
                return False
            firsts.add(rows[0].rstrip())
            seconds.add(rows[1].rstrip())
        return (firsts == {written.split("\n", 1)[0].rstrip()} and len(seconds) == 1
                and bool(next(iter(seconds)).strip()))

    # ---- the loop -----------------------------------------------------------------------------
    def run(self) -> AttemptRecord:
        """The attempt, with what it cost (``compute``: the attempt's meter is open while the loop
        runs; each line has its own, ``LineRecord.compute``)."""
        meter = compute.Meter()
        head_tokens = self.head.take_prefill()
        with compute.metered(meter):
            rec = self.loop()
        rec.compute = {**meter.counts, "head_prefill_tokens": head_tokens}
        rec.timings["wall_s"] = meter.counts["wall_s"]
        return rec

    def loop(self) -> AttemptRecord:
        """The line loop; on any exception (a failing hook, Ctrl-C) the streams it holds go back to
        the engine before it propagates (a llama.cpp context has a fixed number of sequences: a
        leaked one would fail every later attempt with "all sequences are in use")."""
        self._streams.clear()
        try:
            return self._loop()
        except BaseException:
            for stream in self._streams.values():
                try:
                    self.lm.release(stream)
                except Exception:  # noqa: BLE001 - the original error is the one to see
                    pass
            raise

    def _loop(self) -> AttemptRecord:
        lm, st, a, h = self.lm, self.settings, self.agent, self.head
        held = self._streams  # the streams this attempt holds now (released by ``loop`` on an error)
        totals = {"sample_s": 0.0, "execute_s": 0.0, "prefill_s": 0.0, "decode_s": 0.0}
        t0 = time.perf_counter()
        sol = held["sol"] = lm.fork(h.stream)  # p_sol: prompt + code so far
        logits_u = lm.extend(sol, h.tail_ids)
        compute.add(prefill_tokens=len(h.tail_ids))
        totals["prefill_s"] += time.perf_counter() - t0
        code_ids: list[int] = []
        lines: list[LineRecord] = []
        stop_reason, code = "", ""
        verified: tuple[int, int] | None = None  # (line, candidate) whose code ended the attempt
        foreseen = False  # the previous line's candidates agreed on this one (skip rule `ahead`)
        while not stop_reason:
            if self.cancel.is_set() or SHUTDOWN.is_set():
                stop_reason = "cancelled"
                break
            line_index = len(lines)
            prefix = lm.decode(code_ids)
            timings = {"sample_s": 0.0, "execute_s": 0.0, "prefill_s": 0.0, "decode_s": 0.0}
            line_cost = compute.start(compute.Meter())  # what this line costs, until its record is made
            skipped = self.certain(line_index, logits_u, foreseen) if a.gamma != 0 else ""
            peeked = None  # (stream, code ids, write_line's result) of a confident line
            if not skipped and a.gamma != 0 and st.skip_confident > 0 and self.problem.visible_tests:
                t0 = time.perf_counter()
                peeked = self.peek(sol, code_ids, logits_u)
                timings["decode_s"] += time.perf_counter() - t0
                skipped = "confident" if peeked is not None else ""
            cands, signal = ([], "") if skipped else self.build_signal(sol, prefix, line_index, timings)
            found = verified_candidate(cands, prefix, self.problem) if st.accept_verified else None
            if found is not None:  # a whole function that passed every visible test: end with it
                cand, code = found
                stop_reason, verified = "verified", (line_index, cand.index)
                line = LineRecord(line_index=line_index, prefix=prefix, signal_text=signal, candidates=cands,
                                  chosen_text=code[len(prefix):] if code.startswith(prefix) else code,
                                  tokens=[], timings=timings, compute=line_cost())
                lines.append(line)
                for k in totals:
                    totals[k] += timings[k]
                if self.on_line:
                    self.on_line(line)
                break
            if signal and "agree" in self.skip and self.agree(cands):
                signal, skipped = "", "agree"  # explored and executed, but the signal would not change the line
            guided = bool(signal) and a.gamma != 0
            pair = None
            logits_c = None
            if guided:  # p_dyn = head + signal + tail + code so far, on a fork of the head stream
                t0 = time.perf_counter()
                dyn = held["dyn"] = lm.fork(h.stream)
                dyn_ids = lm.encode(signal) + h.tail_ids + code_ids
                logits_c = lm.extend(dyn, dyn_ids)
                compute.add(prefill_tokens=len(dyn_ids))
                pair = lm.pair(sol, dyn, batched=st.batch_streams)
                timings["prefill_s"] = time.perf_counter() - t0
            # step 5: write the line, one guided token at a time
            t0 = time.perf_counter()
            line_start = len(code_ids)
            if peeked is not None:  # the confident line, already written on a fork of p_sol
                lm.release(sol)
                sol, code_ids, (tokens, stop_reason, code, logits_u, _) = peeked[0], peeked[1], peeked[2]
                held["sol"] = held.pop("peek")
            else:
                tokens, stop_reason, code, logits_u, logits_c = self.write_line(
                    sol, pair, code_ids, logits_u, logits_c, guided)
            if pair is not None:
                sol = held["sol"] = lm.unpair(pair)  # p_dyn is dropped: the next line gets a new signal
                held.pop("dyn", None)
            timings["decode_s"] += time.perf_counter() - t0
            line = LineRecord(line_index=line_index, prefix=prefix, signal_text=signal, candidates=cands,
                              chosen_text=lm.decode(code_ids[line_start:]), tokens=tokens, timings=timings,
                              skip_rule=skipped, compute=line_cost())
            foreseen = "ahead" in self.skip and self.ahead(cands, line.chosen_text)
            if st.carry_drafts:  # a line written without exploring passes the carried drafts on
                self.carried = self.carry(cands or self.carried, line.chosen_text, line_index)
            lines.append(line)
            for k in totals:
                totals[k] += timings[k]
            if self.on_line:
                self.on_line(line)
            if not stop_reason and len(lines) >= st.max_lines:
                stop_reason = "line_cap"
        lm.release(sol)  # (engines also free a stream's state when it is garbage collected)
        held.clear()
        if not code:
            code = lm.decode(code_ids).split(FENCE, 1)[0]
        code = code.rstrip() + "\n" if code.strip() else ""
        t0 = time.perf_counter()
        visible = run_tests(code, self.problem.visible_tests, function_name=self.problem.function_name,
                            setup_code=self.problem.setup_code, kind=self.problem.kind,
                            timeout_s=st.test_timeout_s, pool=self.pool) if code else []
        totals["test_s"] = time.perf_counter() - t0
        passed = bool(code) and stop_reason != "cancelled" and all(o.status == "passed" for o in visible)
        return AttemptRecord(agent_index=self.agent_index, agent=a, code=code, stop_reason=stop_reason,
                             lines=lines, visible=visible, passed_visible=passed, timings=totals,
                             verified_line=verified[0] if verified else None,
                             verified_candidate=verified[1] if verified else None)

    def write_line(self, sol, pair, code_ids: list[int], logits_u: torch.Tensor, logits_c: torch.Tensor | None,
                   guided: bool, floor: float = 0.0):
        """Write one line onto ``code_ids`` token by token (guided on ``pair``, else on ``sol``):
        (tokens, stop_reason, code, logits_u, logits_c) after its newline or the attempt's end
        ("" = go on).  ``floor`` > 0: None as soon as a token's unguided probability is below it."""
        lm, st = self.lm, self.settings
        tokens: list[TokenDecision] = []
        stop_reason, code = "", ""
        while True:
            if self.cancel.is_set() or SHUTDOWN.is_set():
                stop_reason = "cancelled"
                break
            tok, decision = self.choose(logits_u, logits_c, len(code_ids), guided)
            if floor and math.exp(decision.logp_uncond) < floor:
                return None
            tokens.append(decision)
            if tok in lm.eos_ids:
                stop_reason = "eos"
                break
            code_ids.append(tok)
            done = finished_function(lm.decode(code_ids), self.problem)
            if done:
                code, stop_reason = done
                break
            if len(code_ids) >= st.max_new_tokens:
                stop_reason = "token_cap"
                break
            if pair is not None:
                logits_u, logits_c = lm.pair_step(pair, tok)
                compute.add(decoded_tokens_sol=1, decoded_tokens_dyn=1)
            else:
                logits_u = lm.step(sol, tok)
                compute.add(decoded_tokens_sol=1)
            if "\n" in decision.token_text:
                break
        return tokens, stop_reason, code, logits_u, logits_c

    def peek(self, sol, code_ids: list[int], logits_u: torch.Tensor):
        """The ``skip_confident`` test: the next line written greedily (unguided) on a fork of
        p_sol, as (fork, code ids, write_line's result) when every token's unguided probability
        is at least the threshold; None (the fork dropped) at the first token below it."""
        fork, ids = self.lm.fork(sol), list(code_ids)
        held = self._streams
        held["peek"] = fork
        out = self.write_line(fork, None, ids, logits_u, None, False, floor=self.settings.skip_confident)
        if out is None or out[1] == "cancelled":
            self.lm.release(fork)
            held.pop("peek", None)
            return None
        return fork, ids, out

    def sample(self, logprobs: torch.Tensor, position: int) -> int:
        """A sampler agent's token: temperature t and top-p (stock warpers), seeded per position."""
        scores = logprobs[None]
        for warp in (TemperatureLogitsWarper(self.agent.t), TopPLogitsWarper(self.settings.top_p)):
            scores = warp(None, scores)
        gen = torch.Generator().manual_seed(line_seed(self.settings.seed, self.problem.task_id, self.agent, position))
        return int(torch.multinomial(torch.softmax(scores[0], dim=-1), 1, generator=gen))

    def choose(self, logits_u: torch.Tensor, logits_c: torch.Tensor | None, position: int,
               guided: bool) -> tuple[int, TokenDecision]:
        """Pick the next token (argmax of the guided distribution) and record the decision."""
        lu = torch.log_softmax(logits_u.float(), dim=-1)
        lc = torch.log_softmax(logits_c.float(), dim=-1) if guided else lu
        combined = cfg_logprobs(logits_u, logits_c, self.agent.gamma) if guided else lu
        if guided:
            combined = self.mask(lu, combined)
        tok = int(combined.argmax()) if not self.agent.is_sampler else self.sample(lu, position)
        k = self.settings.record_topk
        decision = TokenDecision(
            position=position, token_id=tok, token_text=self.lm.token_text(tok), gamma=self.agent.gamma,
            logp_uncond=float(lu[tok]), logp_guided=float(lc[tok]), logp_combined=float(combined[tok]),
            topk_uncond=topk_pairs(lu, k), topk_guided=topk_pairs(lc, k) if guided else [],
            topk_combined=topk_pairs(combined, k) if guided else [],
            argmax_changed=tok != int(lu.argmax()),
        )
        return tok, decision
