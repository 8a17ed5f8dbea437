"""Traced and untraced test runs of candidate code (inside the sandbox), and trace rendering.

``run_traced`` runs ``setup_code + code`` and then one test inside the sandbox while the harness
traces the candidate's lines, variable changes, calls/returns and exceptions.  ``render_trace``
turns the structured trace into short deterministic text for the model's prompt.  ``run_tests``
runs tests one process each, without tracing (stop rule, hidden-test scoring).

A test passes only when the harness, after the test block ran to its end, reports so on the
verdict pipe with the run's nonce (see docs/SANDBOX.md); an early exit, a missing or forged
verdict, or a program that switched the tracer off is never "passed".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from .records import TestCase, TestOutcome
from .sandbox import RawRun, SandboxPool, execute, signal_name

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")
TRACE_STATUSES = ("passed", "failed", "error", "timeout", "memory", "killed")


@dataclass
class TraceResult:
    status: str  # "passed", "failed", "error", "timeout", "memory", "killed"
    error: str  # "" or "Type: message"
    trace: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    duration_s: float = 0.0
    stdout: str = ""
    stderr: str = ""


def _kind_of(test: TestCase, kind: str | None) -> str:
    if kind is not None:
        if kind not in ("function", "stdio"):
            raise ValueError(f"kind must be 'function' or 'stdio', got {kind!r}")
        return kind
    if not test.source.strip() and (test.stdin or test.expected_stdout):
        return "stdio"
    return "function"


def _normalise_output(s: str) -> list[list[str]]:
    lines = [ln.split() for ln in s.strip().splitlines()]
    return [ln for ln in lines if ln] if any(lines) else []


def _check_inputs(code: str, test: TestCase, kind: str) -> None:
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    if not isinstance(test, TestCase):
        raise TypeError(f"test must be a records.TestCase, got {type(test).__name__}")
    if kind == "function" and not test.source.strip():
        raise ValueError("a function-kind TestCase needs a statement block in .source (e.g. 'assert f(1) == 2')")


def _interpret(raw: RawRun, kind: str, test: TestCase) -> tuple[str, str]:
    """(status, error) of a test run from what the sandbox reported."""
    rec, rep = raw.record, raw.reply
    sig = rep.get("signal")
    if raw.output_exceeded:
        return "killed", "OutputLimitExceeded: the program wrote more than the output cap"
    if raw.worker_lost:
        return "killed", "SandboxLost: the sandbox stopped answering and was killed"
    if rep.get("timed_out") or (rec is not None and rec.get("outcome") == "timeout") or sig == 24:
        return "timeout", "Timeout: the run exceeded its time limit"
    if rec is None:
        if raw.verdict_problem:
            return "error", f"SandboxViolation: {raw.verdict_problem}"
        if sig is not None:
            return "killed", f"Killed: terminated by {signal_name(sig)}"
        code = rep.get("exit")
        if b"MemoryError" in raw.stderr[-4000:]:
            return "memory", "MemoryError: memory limit exceeded"
        if kind == "stdio" and code == 0:
            # a stdio program may end itself with os._exit(0): its output is what counts
            ok = _normalise_output(raw.stdout_text()) == _normalise_output(test.expected_stdout)
            return ("passed", "") if ok else ("failed", "WrongOutput: stdout differs from the expected output")
        return "error", f"NoVerdict: the program ended (exit code {code}) before the tests completed"
    if rec.get("tampered"):
        return "error", "SandboxViolation: " + "; ".join(str(t) for t in rec["tampered"])
    out = rec.get("outcome")
    if out == "exception":
        exc = rec.get("exc") or {}
        etype, msg = str(exc.get("type")), str(exc.get("msg"))
        err = f"{etype}: {msg}" if msg else etype
        if exc.get("memory"):
            return "memory", err
        if exc.get("assertion") and exc.get("where") == "test" and kind == "function":
            return "failed", err
        return "error", err
    if out == "exit":
        code = rec.get("exit_code")
        if kind == "stdio" and code == 0:
            pass  # judged on output below
        elif kind == "stdio":
            return "error", f"SystemExit: {code}"
        else:
            return "error", f"SystemExit: {code} (the program exited before the tests completed)"
    elif out != "completed":
        return "error", f"SandboxViolation: unknown outcome {out!r}"
    if kind == "stdio":
        ok = _normalise_output(raw.stdout_text()) == _normalise_output(test.expected_stdout)
        return ("passed", "") if ok else ("failed", "WrongOutput: stdout differs from the expected output")
    return "passed", ""


def _job(code: str, test: TestCase, kind: str, setup_code: str, trace: bool) -> dict[str, Any]:
    if kind == "stdio":
        return {"mode": "stdio", "source": code, "setup": setup_code, "trace": trace}
    return {"mode": "function", "source": code, "setup": setup_code, "test": test.source, "trace": trace}


def _invocation(test: TestCase, kind: str) -> str:
    if kind == "stdio":
        s = test.stdin.strip().replace("\n", " / ")
        return "stdin: " + (s if len(s) <= 80 else s[:77] + "...")
    if test.call:
        return test.call.strip()
    lines = [ln.strip() for ln in test.source.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


def run_traced(code: str, test: TestCase, *, function_name: str, setup_code: str = "",
               timeout_s: float = 2.0, pool: SandboxPool | None = None, kind: str | None = None,
               memory_mb: int = 512) -> TraceResult:
    """Run ``setup_code + code`` then ``test`` inside the sandbox, tracing the candidate."""
    k = _kind_of(test, kind)
    _check_inputs(code, test, k)
    raw = execute(_job(code, test, k, setup_code, True), stdin=test.stdin if k == "stdio" else "",
                  timeout_s=timeout_s, memory_mb=memory_mb, pool=pool)
    status, error = _interpret(raw, k, test)
    error = _ADDR.sub("", error)
    rec = raw.record or {}
    t = rec.get("trace") or {}
    exc = rec.get("exc")
    trace = {
        "version": 1,
        "kind": k,
        "function_name": function_name,
        "invocation": _invocation(test, k),
        "events": list(t.get("events") or []),
        "n_events": int(t.get("n_events") or 0),
        "n_lines": int(t.get("n_lines") or 0),
        "truncated": bool(t.get("truncated")),
        "exception": dict(exc) if isinstance(exc, dict) else None,
        "status": status,
        "error": error,
    }
    if k == "stdio":
        out = raw.stdout_text()
        trace["stdout"] = out if len(out) <= 2000 else out[:2000] + "..."
        exp = test.expected_stdout
        trace["expected_stdout"] = exp if len(exp) <= 2000 else exp[:2000] + "..."
    return TraceResult(status=status, error=error, trace=trace, duration_s=raw.duration_s,
                       stdout=raw.stdout_text(), stderr=raw.stderr_text())


def run_tests(code: str, tests: Sequence[TestCase], *, function_name: str, setup_code: str = "",
              kind: str = "function", timeout_s: float = 5.0, pool: SandboxPool | None = None,
              memory_mb: int = 512) -> list[TestOutcome]:
    """Run each test in its own sandboxed process (no tracing)."""
    if kind not in ("function", "stdio"):
        raise ValueError(f"kind must be 'function' or 'stdio', got {kind!r}")
    outcomes = []
    for i, test in enumerate(tests):
        _check_inputs(code, test, kind)
        raw = execute(_job(code, test, kind, setup_code, False), stdin=test.stdin if kind == "stdio" else "",
                      timeout_s=timeout_s, memory_mb=memory_mb, pool=pool)
        status, error = _interpret(raw, kind, test)
        outcomes.append(TestOutcome(test_index=i, status=status, error=_ADDR.sub("", error),
                                    duration_s=raw.duration_s))
    return outcomes


# ---------------------------------------------------------------------------------------------
# Rendering


def _clip(s: Any, n: int) -> str:
    s = _ADDR.sub("", str(s)).replace("\n", "\\n")
    return s if len(s) <= n else s[: max(n - 3, 1)] + "..."


def _render_event(ev: dict[str, Any], max_repr: int) -> str | None:
    t = ev.get("t")
    ind = "  " * min(max(int(ev.get("d") or 1), 1), 4)
    if t == "line":
        vars_ = ev.get("vars") or {}
        body = ", ".join(f"{k} = {_clip(vars_[k], max_repr)}" for k in sorted(vars_))
        return f"{ind}L{ev.get('ln')}" + (f"  {body}" if body else "")
    if t == "call":
        args = ev.get("args") or {}
        a = ", ".join(f"{k}={_clip(v, max_repr)}" for k, v in args.items())
        return f"{ind}=> {ev.get('fn')}({a})"
    if t == "return":
        return f"{ind}-> {ev.get('fn')} returned {_clip(ev.get('value'), max_repr)}"
    if t == "raise":
        return f"{ind}-> {ev.get('fn')} raised"
    if t == "exception":
        msg = _clip(ev.get("msg") or "", max_repr)
        return f"{ind}!! {ev.get('type')}" + (f": {msg}" if msg else "") + f" (L{ev.get('ln')})"
    if t == "gap":
        return f"{ind}... {ev.get('n')} steps not recorded"
    return None


def render_trace(trace: dict, *, max_steps: int = 40, max_repr: int = 60, max_chars: int = 1500) -> str:
    """Deterministic, bounded text of a trace (for the model's prompt)."""
    if not isinstance(trace, dict):
        raise TypeError(f"trace must be the dict of a TraceResult, got {type(trace).__name__}")
    if max_steps < 2 or max_repr < 8 or max_chars < 80:
        raise ValueError("render_trace bounds too small: need max_steps >= 2, max_repr >= 8, max_chars >= 80")
    head = f"run: {_clip(trace.get('invocation', ''), max(max_repr * 2, 40))}"
    lines = [ln for ln in (_render_event(e, max_repr) for e in trace.get("events") or []) if ln]
    if len(lines) > max_steps:
        n_tail = max_steps // 3
        n_head = max_steps - n_tail - 1
        omitted = len(lines) - n_head - n_tail
        lines = lines[:n_head] + [f"  ... {omitted} steps omitted"] + lines[len(lines) - n_tail:]
    foot = []
    exc = trace.get("exception")
    status = trace.get("status", "")
    if exc and not any(e.get("t") == "exception" for e in (trace.get("events") or [])[-3:]):
        where = exc.get("where")
        loc = f" (L{exc['line']})" if exc.get("line") else (f" (in the {where})" if where else "")
        msg = _clip(exc.get("msg") or "", max_repr)
        foot.append(f"  !! {exc.get('type')}" + (f": {msg}" if msg else "") + loc)
    if trace.get("kind") == "stdio" and status in ("passed", "failed"):
        foot.append(f"  stdout: {_clip(trace.get('stdout', ''), max_repr * 2)}")
        if status == "failed":
            foot.append(f"  expected: {_clip(trace.get('expected_stdout', ''), max_repr * 2)}")
    err = trace.get("error") or ""
    verdict = f"verdict: {status}" + (f" ({_clip(err, max_repr * 2)})" if err and status != "passed" else "")
    foot.append(verdict)
    text = "\n".join([head] + lines + foot)
    if len(text) > max_chars:
        fixed = len(head) + sum(len(f) + 1 for f in foot) + 1
        kept: list[str] = []
        budget = max_chars - fixed - 40
        for ln in lines:
            if budget - (len(ln) + 1) < 0:
                break
            kept.append(ln)
            budget -= len(ln) + 1
        kept.append(f"  ... {len(lines) - len(kept)} more steps")
        text = "\n".join([head] + kept + foot)
        if len(text) > max_chars:
            text = text[: max_chars - 3] + "..."
    return text


def type_of_repr(r: str) -> str:
    """The type name a value's repr shows (the trace stores reprs, not types): int, float, bool,
    NoneType, str, bytes, list, tuple, dict, set, or "object" for anything else."""
    r = r.strip()
    if r in ("True", "False"):
        return "bool"
    if r == "None":
        return "NoneType"
    if re.fullmatch(r"-?\d+", r) or r.startswith("<int with"):
        return "int"
    if re.fullmatch(r"-?(\d+\.\d*|\.\d+|\d+)(e[-+]?\d+)?|-?inf|nan", r):
        return "float"
    if r[:1] in ("'", '"'):
        return "str"
    if r[:2] in ("b'", 'b"'):
        return "bytes"
    if r[:1] == "[":
        return "list"
    if r[:1] == "(":
        return "tuple"
    if r[:1] == "{":
        return "dict" if (":" in r or r == "{}") else "set"
    if r.startswith(("set(", "frozenset(")):
        return r.split("(", 1)[0]
    return "object"


def render_trace_steps(trace: dict, code: str) -> str:
    """The paper's trace layout (docs/PAPER_PRESET.md): one step per call, executed line, return
    and exception of the candidate's functions, each line's source shown as written, preceded by
    the frame's local variables and their types at that point (``=`` per call depth); a return
    shows its value.  Not bounded (the signal is not, in the paper's configuration); values are
    the harness's bounded reprs.  Module-level steps are not traced by our harness."""
    src = code.split("\n")
    text = lambda ln: src[ln - 1] if isinstance(ln, int) and 0 < ln <= len(src) else f"<line {ln}>"  # noqa: E731
    out: list[str] = []
    frames: list[dict[str, str]] = []  # locals of each open call, innermost last
    last_ln: list[int | None] = []

    def state(depth: int) -> str:
        loc = frames[-1] if frames else {}
        names = ", ".join(f"{k!r}: {v}" for k, v in loc.items())
        types = ", ".join(f"{k!r}: {type_of_repr(v)!r}" for k, v in loc.items())
        return f"{'=' * max(1, min(depth, 5))} {{{names}}} , {{{types}}}"

    for ev in trace.get("events") or []:
        t, d = ev.get("t"), int(ev.get("d") or 1)
        if d < 1 and t != "gap":
            continue  # the module level
        if t == "call":
            frames.append(dict(ev.get("args") or {}))
            last_ln.append(ev.get("ln"))
            out += [state(d), f"CALL: {text(ev.get('ln'))}"]
        elif t == "line":
            if not frames:
                frames.append({})
                last_ln.append(None)
            out += [state(d), f"LINE: {text(ev.get('ln'))}"]
            frames[-1].update(ev.get("vars") or {})
            last_ln[-1] = ev.get("ln")
        elif t == "exception":
            out += [state(d), f"EXCEPTION: {text(ev.get('ln'))}",
                    f"Return Value: {ev.get('type')}: {ev.get('msg') or ''}".rstrip(": ")]
        elif t in ("return", "raise"):
            ln = last_ln[-1] if last_ln else None
            out += [state(d), f"RETURN: {text(ln)}"]
            if t == "return":
                out.append(f"Return Value: {ev.get('value')}")
            if frames:
                frames.pop()
                last_ln.pop()
        elif t == "gap":
            out.append(f"... {ev.get('n')} steps not recorded")
    exc = trace.get("exception")
    bare_call_verdict = bool(exc) and exc.get("where") == "test" and exc.get("type") == "AssertionError"
    if exc and not bare_call_verdict and not any(
            e.get("t") == "exception" for e in (trace.get("events") or [])[-3:]):
        out.append(f"EXCEPTION: {exc.get('type')}: {exc.get('msg') or ''}".rstrip(": "))
    if trace.get("status") == "timeout":
        out.append("TIMEOUT")
    return "\n".join(out)


__all__ = ["TraceResult", "render_trace", "render_trace_steps", "run_tests", "run_traced", "type_of_repr"]
