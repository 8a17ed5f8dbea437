"""Prompts: p_inst (instruction + few-shot + task + visible tests), the signal block, and p_dyn.

Both prompts are built from the model's own chat template.  The assistant turn is pre-filled with
an opened ```python fence so the model writes code at once.  The template is rendered with a
marker at the end of the task's user message and split there:

    p_sol = head + tail + code            (the plain prompt, p_inst followed by the code so far)
    p_dyn = head + signal + tail + code   (the same with the execution signal in the user turn)

so the two prompts share ``head`` token for token and its KV cache is computed once per problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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


def task_message(problem: Problem, variant: str = "default") -> str:
    """The user message for one task: description, visible tests, function name (and, for the
    "long-code" variant, the instruction to write many short lines)."""
    check_variant(variant)
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
                 variant: str = "default") -> PromptParts:
    """Render p_inst with the tokenizer's chat template and split it at the signal slot.

    ``variant`` (:data:`PROMPT_VARIANTS`) changes only the task's own message (the few-shot
    examples stay as they are), so each variant has its own prompt head."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the tokenizer has no chat template; EG-CFG needs an instruct model with one")
    messages = [{"role": "system", "content": SYSTEM}]
    if problem.kind == "function" and fewshot:
        messages += _fewshot_messages(fewshot)
    messages.append({"role": "user", "content": task_message(problem, variant) + _MARKER})
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if text.count(_MARKER) != 1:
        raise ValueError("the chat template altered the task message; cannot place the signal slot")
    head, tail = text.split(_MARKER)
    return PromptParts(head=head, tail=tail + CODE_FENCE)


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


def render_signal(candidates: Sequence[CandidateRecord], tests: Sequence[TestCase], *,
                  max_chars: int = 4000, trace_chars: int | None = None) -> str:
    """Render the executed candidates and their traces as the p_signal block ("" when none ran).

    Deterministic for the same records.  Each draft is shown with numbered lines (so the traces'
    Lnn refer to it and the block does not read like code to continue); each execution's trace is
    bounded, and the block as a whole is cut at ``max_chars``.
    """
    from .tracing import render_trace

    ran = [c for c in candidates if c.executable is not None and c.duplicate_of is None and c.executions]
    if not ran:
        return ""
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
