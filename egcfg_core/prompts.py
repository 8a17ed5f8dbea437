"""Prompts: p_inst (instruction + few-shot + task + visible tests), the signal block, and p_dyn.

Both prompts are built from the model's own chat template.  The assistant turn is pre-filled with
an opened ```python fence so the model writes code at once.  How the task itself is asked is the
run's prompt style (:data:`PROMPT_STYLES`), and whether MBPP's 3 few-shot turns come first is its
few-shot choice; :func:`prompting` picks both per benchmark (docs/PROMPTS.md shows one rendered
prompt of each).  The template is rendered with a marker at the end of the task's user message
and split there:

    p_sol = head + tail + code            (the plain prompt, p_inst followed by the code so far)
    p_dyn = head + signal + tail + code   (the same with the execution signal in the user turn)

so the two prompts share ``head`` token for token and its KV cache is computed once per problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from . import threadsafe_ast
from .records import CandidateRecord, Problem, TestCase

CODE_FENCE = "```python\n"
_MARKER = "\x00EGCFG_SIGNAL_SLOT\x00"

SYSTEM = "You are an expert Python programmer. Answer with Python code only, in one code block."

# Prompt variants (a grid dimension, AgentConfig.prompt): "default" asks for the function only;
# "long-code" also asks for many short lines (one simple statement each, no comprehensions or
# lambdas), so that line-by-line execution feedback has more lines to act on.
PROMPT_VARIANTS = ("default", "long-code")
LONG_CODE_INSTRUCTION = (
    "Write it as many short, simple lines: one statement per line, plain for loops and if "
    "statements, intermediate variables with clear names; no list, dict or set comprehensions, "
    "no lambda functions, no generator expressions, no chained one-liners."
)


# Prompt styles: how the task's own user message is written ([run] prompt_style).
#   "describe"  the task's description, its visible tests and the function to write, under our
#               SYSTEM message: MBPP's standard form (the text every run had before styles
#               existed); for CodeContests the statement and its examples
#   "evalplus"  the convention instruct models report HumanEval with (evalplus's chat prompt; the
#               Qwen2.5-Coder model card's figures): the task's prompt code in a fence, asked for a
#               self-contained script; no system message of ours (the chat template's default),
#               and the assistant turn opens with evalplus's response prefix before the code fence
#   "paper"     the EG-CFG authors' prompt (docs/PAPER_PRESET.md): DeepSeek-Coder's raw
#               "### Instruction:" / "### Response:" text, no chat template; MBPP's 3 examples as
#               ">>> Problem:" / ">>> Test Cases:" / ">>> Code:" blocks, then the task the same way;
#               p_dyn puts the signal just before "### Response:"
PROMPT_STYLES = ("describe", "evalplus", "paper")
EVALPLUS_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem "
                        "in a markdown code block:")
EVALPLUS_RESPONSE = ("Below is a Python script with a self-contained function that solves the problem "
                     "and passes corresponding tests:")

# the "paper" style's frame (our wording of its system line; the markers are DeepSeek-Coder's)
PAPER_SYSTEM = ("You are an AI programming assistant. You answer questions about computer science "
                "and write Python code.")
PAPER_FEWSHOT_INTRO = ("Please refer the given examples and generate a python function for my problem.\n"
                       "Examples are listed as follows:\n")
PAPER_LONG_CODE_INTRO = "Write a Python function that satisfies the following test cases:"
PAPER_RESPONSE = "\n### Response:\n"

# What "auto" means per benchmark: (MBPP's 3 few-shot turns first?, prompt style).  MBPP keeps its
# standard 3-shot prompt (measured: 13/40 greedy on MBPP 11-50 with the shots, 10/40 without);
# HumanEval is asked as instruct models are evaluated on it, without MBPP's turns (29/40 greedy
# on HumanEval 0-39 without them, 22/40 with).
BENCHMARK_PROMPTING = {
    "mbpp": (True, "describe"),
    "mbpp-et": (True, "describe"),
    "humaneval": (False, "evalplus"),
    "humaneval-et": (False, "evalplus"),
    "codecontests": (False, "describe"),
}


def prompting(benchmark: str, fewshot: bool | str = "auto", style: str = "auto") -> tuple[bool, str]:
    """(MBPP's few-shot turns first?, prompt style) for a run on ``benchmark``: "auto" takes the
    benchmark's convention (:data:`BENCHMARK_PROMPTING`), anything else is kept.  The one rule
    sweeps (``SweepConfig.prompting``) and ``egcfg solve`` both follow; ValueError on a bad value."""
    if benchmark not in BENCHMARK_PROMPTING:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARK_PROMPTING)}")
    auto_fewshot, auto_style = BENCHMARK_PROMPTING[benchmark]
    if fewshot != "auto" and not isinstance(fewshot, bool):
        raise ValueError(f"fewshot: expected true, false or \"auto\", got {fewshot!r}")
    if style != "auto" and style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style: {style!r} is not one of auto, {', '.join(PROMPT_STYLES)}")
    style = auto_style if style == "auto" else style
    if style in ("evalplus", "paper") and benchmark == "codecontests":
        raise ValueError(f"prompt_style: \"{style}\" asks for a function; CodeContests tasks are programs "
                         "(use \"describe\")")
    return (auto_fewshot if fewshot == "auto" else fewshot), style


def check_variant(variant: str) -> str:
    """``variant`` if it is one of :data:`PROMPT_VARIANTS`, else ValueError naming them."""
    if variant not in PROMPT_VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; known: {', '.join(PROMPT_VARIANTS)}")
    return variant


@dataclass(frozen=True)
class PromptParts:
    head: str  # chat-template text up to the end of the task (shared by p_sol and p_dyn)
    tail: str  # end of the user turn, the assistant header and the opened code fence

    def p_sol(self, code: str = "") -> str:
        return self.head + self.tail + code

    def p_dyn(self, signal: str, code: str = "") -> str:
        return self.head + signal + self.tail + code


def task_message(problem: Problem, variant: str = "default", style: str = "describe") -> str:
    """The user message for one task in a prompt style (:data:`PROMPT_STYLES`); the "long-code"
    variant adds the instruction to write many short lines."""
    check_variant(variant)
    if style == "evalplus":
        parts = [EVALPLUS_INSTRUCTION, "```", _evalplus_problem(problem), "```"]
        if variant == "long-code":
            parts += ["", LONG_CODE_INSTRUCTION]
        return "\n".join(parts) + "\n"
    if style != "describe":
        raise ValueError(f"unknown prompt style {style!r}; known: {', '.join(PROMPT_STYLES)}")
    if problem.kind == "stdio":
        parts = [problem.description.strip(), "",
                 "Write a complete Python program that reads from standard input and writes to standard output."]
        for i, t in enumerate(problem.visible_tests, 1):
            parts += [f"Example {i} input:", t.stdin.rstrip("\n"), f"Example {i} output:", t.expected_stdout.rstrip("\n")]
    else:
        parts = [problem.description.strip()]
        if problem.visible_tests:
            parts += ["Your code should pass these tests:", *(t.source.strip() for t in problem.visible_tests)]
        parts.append(f"Write the function `{problem.function_name}`.")
    if variant == "long-code":
        parts.append(LONG_CODE_INSTRUCTION)
    return "\n".join(parts)


def _evalplus_problem(problem: Problem) -> str:
    """The problem as evalplus shows it: HumanEval's prompt code; for an MBPP task its text and
    first test in a docstring (evalplus's MBPP+ form)."""
    if problem.kind != "function":
        raise ValueError(f"{problem.task_id}: the evalplus prompt style asks for a function, not a program")
    if problem.benchmark.startswith("humaneval"):
        return problem.description.strip()
    test = problem.visible_tests[0].source.strip() if problem.visible_tests else ""
    return "\n".join(['"""', problem.description.strip(), *([test] if test else []), '"""'])


def _fewshot_messages(fewshot: Sequence[dict]) -> list[dict]:
    msgs: list[dict] = []
    for ex in fewshot:
        user = "\n".join([ex["text"].strip(), "Your code should pass these tests:", *ex["test_list"]])
        name = _called_name(ex["test_list"][0]) if ex.get("test_list") else ""
        if name:
            user += f"\nWrite the function `{name}`."
        msgs.append({"role": "user", "content": user})
        msgs.append({"role": "assistant", "content": CODE_FENCE + ex["code"].strip() + "\n```"})
    return msgs


def _called_name(assert_src: str) -> str:
    import re

    m = re.search(r"assert\s+(?:not\s+)?\(?\s*([A-Za-z_]\w*)\s*\(", assert_src)
    return m.group(1) if m else ""


def build_prompt(problem: Problem, tokenizer, fewshot: Sequence[dict] | None = None,
                 variant: str = "default", style: str = "describe") -> PromptParts:
    """Render p_inst with the tokenizer's chat template and split it at the signal slot.

    ``style`` (:data:`PROMPT_STYLES`) is how the task is asked; the few-shot turns (``fewshot``,
    function tasks only) are MBPP's in the "describe" form whatever the style.  ``variant``
    (:data:`PROMPT_VARIANTS`) changes only the task's own message, so each variant has its own
    prompt head."""
    if style == "paper":
        return paper_prompt(problem, fewshot, variant)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the tokenizer has no chat template; EG-CFG needs an instruct model with one")
    messages = prompt_messages(problem, fewshot, variant, style)
    messages[-1]["content"] += _MARKER
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if text.count(_MARKER) != 1:
        raise ValueError("the chat template altered the task message; cannot place the signal slot")
    head, tail = text.split(_MARKER)
    return PromptParts(head=head, tail=tail + assistant_opening(style))


def _paper_block(text: str, tests: Sequence[str]) -> str:
    return f">>> Problem:\n{text.strip()}\n>>> Test Cases:\n" + "\n".join(t.strip() for t in tests) + "\n"


def paper_prompt(problem: Problem, fewshot: Sequence[dict] | None = None,
                 variant: str = "default") -> PromptParts:
    """The "paper" style (no chat template): the system line, "### Instruction:", MBPP's examples
    (when ``fewshot``; the "long-code" variant has none, as in the authors' long-code prompt), the
    task as ">>> Problem:" and ">>> Test Cases:" (its visible tests), then "### Response:" and the
    opened fence.  The head ends after the task (and the long-code rules), so p_dyn's signal goes
    just before "### Response:", where the authors put it."""
    check_variant(variant)
    if problem.kind != "function":
        raise ValueError(f"{problem.task_id}: the paper prompt style asks for a function, not a program")
    tests = [t.source.strip() for t in problem.visible_tests]
    head = f"{PAPER_SYSTEM}\n### Instruction:\n"
    if variant == "long-code":
        head += (f"{problem.description.strip()}\n\n{PAPER_LONG_CODE_INTRO}\n>>> Test Cases:\n"
                 + "\n".join(tests) + f"\n\n{LONG_CODE_INSTRUCTION}\n")
    else:
        if fewshot:
            head += PAPER_FEWSHOT_INTRO
            for n, ex in enumerate(fewshot, 1):
                head += (f"- Example {n}:\n" + _paper_block(ex["text"], ex["test_list"])
                         + f"\n>>> Code:\n{CODE_FENCE}{ex['code'].strip()}\n```\n\n")
            head += "Here is my problem:\n"
        head += _paper_block(problem.description, tests)
    return PromptParts(head=head, tail=PAPER_RESPONSE + CODE_FENCE)


def prompt_messages(problem: Problem, fewshot: Sequence[dict] | None = None, variant: str = "default",
                    style: str = "describe") -> list[dict]:
    """The chat messages of p_inst (what ``build_prompt`` renders): our system message (not in the
    "evalplus" style), MBPP's few-shot turns (function tasks, when given), the task's message."""
    message = task_message(problem, variant, style)
    messages = [] if style == "evalplus" else [{"role": "system", "content": SYSTEM}]
    if problem.kind == "function" and fewshot:
        messages += _fewshot_messages(fewshot)
    return [*messages, {"role": "user", "content": message}]


def assistant_opening(style: str = "describe") -> str:
    """The text the assistant turn is pre-filled with: the opened code fence (after evalplus's
    response prefix in that style)."""
    return EVALPLUS_RESPONSE + "\n" + CODE_FENCE if style == "evalplus" else CODE_FENCE


# ---------------------------------------------------------------------------------------------
# The signal block
# ---------------------------------------------------------------------------------------------

SIGNAL_INTRO = (
    "\n\nExecution feedback. I sampled a few possible next lines for the code you have written so far, "
    "ran each of them on the tests above and traced the runs (Lnn = line number in that draft, "
    "then the variables it changed; -> is a return value; !! is an error). "
    "Use it to write the next line correctly; do not copy these notes into the code."
)


def _numbered(code: str) -> str:
    return "\n".join(f"{i:>3}| {line}" for i, line in enumerate(code.rstrip("\n").split("\n"), 1))


SIGNAL_FORMATS = ("v1", "v2", "paper")


def render_signal(candidates: Sequence[CandidateRecord], tests: Sequence[TestCase], *,
                  max_chars: int = 4000, trace_chars: int | None = None, format: str = "v1",
                  prefix: str = "", complete: Sequence[int] = ()) -> str:
    """Render the executed candidates and their traces as the p_signal block ("" when none ran).

    Deterministic for the same records.  ``format`` "v1": each draft in sampling order, whole and
    numbered (so the traces' Lnn refer to it and the block does not read like code to continue),
    each execution's bounded trace; whole drafts while they fit in ``max_chars``.  "v2" (see
    ``_render_signal_v2``): ``prefix`` (the code so far) once, then the drafts' new lines only,
    sorted by visible tests passed with the best LAST, each test as call / expected / actual;
    the candidates whose index is in ``complete`` (whole functions) are labelled so.  "paper"
    (``render_signal_paper``): every draft x every test as function / invocation / step-by-step
    trace, no verdicts.  ``max_chars`` 0 = no limit.
    """
    if format not in SIGNAL_FORMATS:
        raise ValueError(f"signal format must be one of {', '.join(SIGNAL_FORMATS)}, got {format!r}")
    ran = [c for c in candidates if c.executable is not None and c.duplicate_of is None and c.executions]
    if not ran:
        return ""
    if format == "paper":
        return render_signal_paper(ran, tests, max_chars=max_chars)
    max_chars = max_chars or 10**9  # 0 = no limit
    if format == "v2":
        return _render_signal_v2(ran, tests, prefix, max_chars=max_chars, trace_chars=trace_chars,
                                 complete=frozenset(complete))
    from .tracing import render_trace

    n_exec = sum(len(c.executions) for c in ran)
    per_trace = trace_chars or max(200, (max_chars - 200 * len(ran)) // max(1, n_exec))
    drafts = []
    for n, cand in enumerate(ran, 1):
        chunk = [f"\n\nDraft {n}:\n{_numbered(cand.executable or '')}"]
        for ex in sorted(cand.executions, key=lambda e: e.test_index):
            text = render_trace(ex.trace, max_chars=per_trace).rstrip() if ex.trace else ""
            if not text:  # no trace came back (e.g. killed): say what happened to which test
                test = tests[ex.test_index] if ex.test_index < len(tests) else None
                call = (test.call or test.source.strip()) if test else f"test {ex.test_index}"
                text = f"run: {call}\nverdict: {ex.status}" + (f" ({ex.error})" if ex.error else "")
            chunk.append("\n" + text)
        drafts.append("".join(chunk))
    # whole drafts while they fit (40 characters kept for the note); the first is cut if it must
    block, limit, shown = SIGNAL_INTRO, max_chars - 1, 0
    for draft in drafts:
        if len(block) + len(draft) + 40 > limit:
            break
        block += draft
        shown += 1
    if shown == 0:
        block += drafts[0][: max(0, limit - len(block) - 40)] + "\n[cut]"
        shown = 1
    if shown < len(drafts):
        block += f"\n[{len(drafts) - shown} more drafts not shown]"
    return block[:limit] + "\n"


# ---- signal format v2: code so far once, new lines per draft, best draft last ------------------

SIGNAL_INTRO_V2 = (
    "\n\nExecution feedback. I sampled a few possible next lines for the code you have written so far "
    "and ran each on the tests above. The drafts are sorted by how many tests they pass, the best LAST; "
    "for each test: the call, the value the test expects, and what the draft returned (or its error). "
    "Use it to write the next line correctly; do not copy these notes into the code."
)


def expected_of(test: TestCase) -> str | None:
    """The expected value of an ``assert CALL == EXPECTED`` test (source text), else None.

    Either side may be the call (``assert 3 == f(x)``); any other assert shape has no single
    expected value and the signal shows the assert itself instead.
    """
    import ast

    src, call = test.source.strip(), test.call.strip()
    if not call:
        return None
    try:
        tree = threadsafe_ast.parse(src)
    except (SyntaxError, ValueError):
        return None
    stmt = next((n for n in reversed(tree.body) if isinstance(n, ast.Assert)), None)
    if stmt is None or not isinstance(stmt.test, ast.Compare) or len(stmt.test.ops) != 1 \
            or not isinstance(stmt.test.ops[0], ast.Eq):
        return None
    left, right = stmt.test.left, stmt.test.comparators[0]
    seg = lambda n: ast.get_source_segment(src, n) or ast.unparse(n)  # noqa: E731
    if seg(left).strip() == call:
        return seg(right)
    if seg(right).strip() == call:
        return seg(left)
    return None


def returned_value(trace: dict) -> str | None:
    """What the traced call of the target function returned (its repr), or None (it raised, never
    returned, or the trace lost the return)."""
    fn = trace.get("function_name")
    value = None
    for ev in trace.get("events") or []:
        if ev.get("t") == "return" and ev.get("fn") == fn and int(ev.get("d") or 1) == 1:
            value = ev.get("value")
        elif ev.get("t") == "raise" and ev.get("fn") == fn and int(ev.get("d") or 1) == 1:
            value = None
    return None if value is None else str(value)


def new_lines(executable: str, prefix: str) -> tuple[int, list[str]]:
    """(first line number, lines) of ``executable`` after the lines it shares with ``prefix``."""
    exe = executable.rstrip("\n").split("\n")
    have = prefix.split("\n")[:-1] if prefix else []  # complete lines only
    k = 0
    while k < min(len(exe), len(have)) and exe[k] == have[k]:
        k += 1
    return k + 1, exe[k:]


def _clip_text(s: str, n: int) -> str:
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[: max(n - 3, 1)] + "..."


def _test_line(ex, tests: Sequence[TestCase], width: int = 80) -> str:
    test = tests[ex.test_index] if ex.test_index < len(tests) else None
    trace = ex.trace or {}
    call = (test.call.strip() if test and test.call else "") or str(trace.get("invocation") or "")
    expected = expected_of(test) if test else None
    if call and expected is not None:
        head = f"{_clip_text(call, width)}  expected {_clip_text(expected, width)}"
    else:
        head = _clip_text(test.source.strip() if test else call or f"test {ex.test_index}", width * 2)
    if ex.status == "passed":
        got = returned_value(trace)
        return f"  {head}  got {_clip_text(got, width)}  -> passed" if got is not None else f"  {head}  -> passed"
    if ex.status == "failed":
        got = returned_value(trace)
        return f"  {head}  got {_clip_text(got, width)}  -> FAILED" if got is not None else f"  {head}  -> FAILED"
    err = ex.error or ex.status
    return f"  {head}  got {ex.status}: {_clip_text(err, width)}  -> FAILED"


def _render_signal_v2(ran: Sequence[CandidateRecord], tests: Sequence[TestCase], prefix: str, *,
                      max_chars: int, trace_chars: int | None, complete: frozenset[int] = frozenset()) -> str:
    """The v2 block.  Drafts sorted by (tests passed, tests that did not error), ties in sampling
    order, the best last; a draft that does not pass everything also shows a short trace of its
    first failing test.  When the block is too long the WORST drafts are left out (the best one
    is kept, cut if it must be)."""
    from .tracing import render_trace

    def score(c: CandidateRecord) -> tuple[int, int]:
        return (sum(e.status == "passed" for e in c.executions),
                sum(e.status in ("passed", "failed") for e in c.executions))

    order = sorted(ran, key=score)  # stable: ties keep sampling order
    n_tests = len(tests)
    per_trace = trace_chars or 400
    drafts = []
    for n, cand in enumerate(order, 1):
        passed = score(cand)[0]
        first, body = new_lines(cand.executable or "", prefix)
        shown = "\n".join(f"{i:>3}| {line}" for i, line in enumerate(body, first)) or "    (no new line)"
        verdict = "passes ALL tests" if passed == n_tests else f"passes {passed} of {n_tests} tests"
        if cand.index in complete:  # a finished function: a failing one says "do not end like this"
            verdict = "a complete function, " + verdict
        chunk = [f"\n\nDraft {n} ({verdict}) continues with:\n{shown}\nResults:"]
        execs = sorted(cand.executions, key=lambda e: e.test_index)
        chunk += ["\n" + _test_line(e, tests) for e in execs]
        bad = next((e for e in execs if e.status != "passed" and e.trace), None)
        if bad is not None:
            rows = render_trace(bad.trace, max_steps=12, max_chars=per_trace).rstrip().split("\n")
            rows = [r for r in rows if not r.startswith(("run: ", "verdict: "))]  # said in Results
            chunk.append(f"\nTrace of {_clip_text(str(bad.trace.get('invocation') or 'the first failing test'), 80)}:\n"
                         + "\n".join(rows))
        drafts.append("".join(chunk))
    code = "\n\nCode so far: (none yet)"
    if prefix.strip():
        rows = _numbered(prefix).split("\n")
        while len(rows) > 1 and sum(len(r) + 1 for r in rows) > max_chars // 2:  # keep its end
            rows.pop(0)
        skipped = len(prefix.rstrip("\n").split("\n")) - len(rows)
        code = "\n\nCode so far:\n" + (f"  ... (lines 1-{skipped} not repeated)\n" if skipped else "") + "\n".join(rows)
    block, limit = SIGNAL_INTRO_V2 + code, max_chars - 1
    kept: list[str] = []
    for draft in reversed(drafts):  # best first, while they fit
        if len(block) + sum(map(len, kept)) + len(draft) + 40 > limit:
            break
        kept.insert(0, draft)
    if not kept:
        kept = [drafts[-1][: max(0, limit - len(block) - 40)] + "\n[cut]"]
    if len(kept) < len(drafts):
        block += f"\n[{len(drafts) - len(kept)} worse drafts not shown]"
    block += "".join(kept)
    return block[:limit] + "\n"


# ---- signal format "paper": the authors' layout (docs/PAPER_PRESET.md) -------------------------

PAPER_SIGNAL_INTRO = (
    "\n### Runtime Behavior for Candidate Continuations\n"
    "Below are execution traces of the function in your response, each completed with one of several "
    "possible continuations and run on the test cases above. Each entry holds a candidate version of the "
    "function, the invocation it was run with, and the step-by-step execution trace of that invocation "
    "(the local variables and their types before each step, and the values returned).\n"
    "Use these runtime signals to write a correct solution.\n"
)


def render_signal_paper(ran: Sequence[CandidateRecord], tests: Sequence[TestCase], *, max_chars: int = 0) -> str:
    """Every executed draft (in sampling order) x every visible test it ran on (in test order):
    "# Function:" (the draft made runnable), "# Invocation:" (the bare call, no expected value),
    "# Execution Trace:" (``tracing.render_trace_steps``).  No verdicts.  ``max_chars`` 0: no limit
    (the paper's); else the block is cut there."""
    from .tracing import render_trace_steps

    entries = []
    for cand in ran:
        for ex in sorted(cand.executions, key=lambda e: e.test_index):
            test = tests[ex.test_index] if ex.test_index < len(tests) else None
            trace = ex.trace or {}
            call = (test.call.strip() if test and test.call else "") or str(trace.get("invocation") or "")
            steps = render_trace_steps(trace, cand.executable or "") if trace else f"{ex.status}: {ex.error}"
            entries.append(f"\n# Function:\n{(cand.executable or '').rstrip()}\n\n# Invocation:\n{call}\n\n"
                           f"# Execution Trace:\n{steps}\n")
    block = PAPER_SIGNAL_INTRO + "\n" + "\n".join(entries)
    if max_chars and len(block) > max_chars:
        block = block[: max(0, max_chars - 7)] + "\n[cut]\n"
    return block
