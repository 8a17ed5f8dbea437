"""Helpers for tests/test_faults.py: tiny MBPP-shaped data folders, a tiny model whose output
is predictable (and whose loading can be made slow), process trees read from /proc, and an
`egcfg sweep` subprocess in its own process group.

Nothing here runs dataset or model code: the tests in the data folders run only inside the
sandbox, through the pipeline.
"""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- the model

ONES = "factory:tests.faults_helpers:ones_model"
SLOW_LOAD_ENV = "EGCFG_TEST_SLOW_LOAD"  # seconds ones_model sleeps before it returns
LOADING_MARK = "faults_helpers: slow model load started"


def ones_model():
    """The tests' tiny random model (tests/tiny.py) with a large bias on the token "1", so that
    every sample and every decoded token is "1": each candidate is ``111...1``, a program that
    compiles and runs cleanly, so the visible test after it always runs (a random model's
    candidates mostly stop at a NameError before the test).  With ``$EGCFG_TEST_SLOW_LOAD=<s>``
    it prints LOADING_MARK and sleeps s seconds first (a slow model load, to be killed)."""
    import torch

    from tests.tiny import tiny_model

    secs = float(os.environ.get(SLOW_LOAD_ENV) or 0)
    if secs > 0:
        print(LOADING_MARK, file=sys.stderr, flush=True)
        time.sleep(secs)
    model, tok = tiny_model(seed=0)
    old = model.lm_head
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    head.weight = old.weight  # still tied to the embeddings
    with torch.no_grad():
        head.bias.zero_()
        head.bias[tok.convert_tokens_to_ids("1")] = 40.0
    model.lm_head = head.eval()
    return model, tok


# ----------------------------------------------------------------------------- data folders

FEWSHOT = [
    {"task_id": 2, "text": "Write a function to add two numbers.", "code": "def add(a, b):\n    return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0"]},
    {"task_id": 3, "text": "Write a function to negate a number.", "code": "def neg(a):\n    return -a",
     "test_list": ["assert neg(1) == -1", "assert neg(0) == 0", "assert neg(-2) == 2"]},
    {"task_id": 4, "text": "Write a function to double a number.", "code": "def dbl(a):\n    return 2 * a",
     "test_list": ["assert dbl(1) == 2", "assert dbl(0) == 0", "assert dbl(3) == 6"]},
]


def mbpp_row(n: int, tests: list[str], *, text: str = "Write a function f that returns its argument.",
             code: str = "def f(x):\n    return x") -> dict:
    return {"task_id": n, "text": text, "code": code, "test_list": tests, "test_setup_code": "",
            "challenge_test_list": []}


def slow_test(seconds: float, arg: int = 1) -> str:
    """An MBPP assert that sleeps (inside the sandbox) before it calls f."""
    return f"assert (__import__('time').sleep({seconds}) or f({arg})) == {arg}"


def write_mbpp_dir(path: Path, lines: list[dict | str]) -> Path:
    """A data folder with mbpp_test.jsonl (dict rows as JSON, str rows written verbatim: broken
    lines), mbpp_fewshot.jsonl and an empty mbpp_et_tests.jsonl."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "mbpp_test.jsonl").write_text(
        "".join((json.dumps(r) if isinstance(r, dict) else r) + "\n" for r in lines))
    (path / "mbpp_fewshot.jsonl").write_text("".join(json.dumps(r) + "\n" for r in FEWSHOT))
    (path / "mbpp_et_tests.jsonl").write_text("")
    return path


# ----------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks after boot: (pid, start) names one process even if the pid is reused
    argv: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.argv)[:200]


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, start time, process group) of a pid, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[19]), int(fields[2])


def processes() -> dict[int, Proc]:
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _stat(int(d))
        if st is None:
            continue
        try:
            argv = tuple(a for a in Path(f"/proc/{d}/cmdline").read_bytes().decode("utf-8", "replace").split("\0") if a)
        except OSError:
            continue
        out[int(d)] = Proc(int(d), st[1], st[3], st[2], argv)
    return out


def descendants(pid: int) -> list[Proc]:
    procs = processes()
    children: dict[int, list[Proc]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c.pid)
    return out


def is_running(p: Proc) -> bool:
    """The same process (pid and start time) still exists and is not a zombie."""
    st = _stat(p.pid)
    return st is not None and st[2] == p.start and st[0] not in ("Z", "X")


def is_sandbox(p: Proc) -> bool:
    """A process of the sandbox: bubblewrap, or the harness (the fork server or a job)."""
    return bool(p.argv) and (os.path.basename(p.argv[0]).startswith("bwrap")
                             or any(a.endswith("harness.py") for a in p.argv))


def _is_harness(p: Proc) -> bool:
    return bool(p.argv) and not os.path.basename(p.argv[0]).startswith("bwrap") and \
        any(a.endswith("harness.py") for a in p.argv)


def sandbox_jobs(procs: list[Proc]) -> list[Proc]:
    """The sandboxed executions among ``procs`` (e.g. ``descendants(sweep_pid)``): harness
    processes forked by a harness process (the fork server forks one child per execution)."""
    by_pid = {p.pid: p for p in procs}
    return [p for p in procs if _is_harness(p) and p.ppid in by_pid and _is_harness(by_pid[p.ppid])]


# ----------------------------------------------------------------------------- a sweep process


def sweep_args(db: Path, data_dir: Path, *, model: str = ONES, tasks: str = "all",
               grid: dict | None = None, decode: dict | None = None) -> list[str]:
    args = ["sweep", "--model", model, "--benchmark", "mbpp", "--tasks", tasks, "--data-dir", str(data_dir),
            "--db", str(db)]
    for k, v in (grid or {}).items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args + [a for k, v in (decode or {}).items() for a in ("--decode", f"{k}={v}")]


def _as_in_a_terminal() -> None:
    """In the child before exec: SIGINT as a terminal's foreground job has it.  A test run started
    in the background of a non-interactive shell (``make test &``) inherits SIGINT ignored, and an
    ignored SIGINT stays ignored across exec, so the Ctrl-C tests would see a sweep that rightly
    ignores Ctrl-C (as ``nohup egcfg sweep &`` should)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SweepProc:
    """`python -m egcfg_cli.main <args>` in its own process group (a new session), using the
    session's Prefect server; stdout+stderr read line by line."""

    started: list["SweepProc"] = []

    def __init__(self, args: list[str], api_url: str, env: dict[str, str] | None = None):
        full_env = dict(os.environ, PREFECT_API_URL=api_url, DO_NOT_TRACK="1", PREFECT_LOGGING_LEVEL="WARNING",
                        PYTHONUNBUFFERED="1", COLUMNS="200", OMP_NUM_THREADS="1", EGCFG_THREADS="1")
        full_env.pop(SLOW_LOAD_ENV, None)
        if not api_url:  # no server given: the CLI starts its own
            full_env.pop("PREFECT_API_URL")
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "egcfg_cli.main", *args], cwd=REPO, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, preexec_fn=_as_in_a_terminal)
        SweepProc.started.append(self)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for_line(self, pattern: str, timeout: float = 120) -> re.Match:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no line matching {pattern!r}; output:\n{self.text()}")
            if m := rx.search(line):
                return m

    def wait_until(self, predicate, what: str, timeout: float = 120, every: float = 0.02):
        """Poll ``predicate()`` until it returns something truthy (returned) while the sweep runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (got := predicate()):
                return got
            if self.proc.poll() is not None:
                break
            time.sleep(every)
        self.kill()
        raise AssertionError(f"never saw {what} (exit code {self.proc.returncode}); output:\n{self.text()}")

    def kill(self) -> None:
        """SIGKILL the sweep's whole process group (the sweep and the children in its group)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)

    def finish(self, timeout: float = 180) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{timeout}s passed and the sweep did not end:\n{self.text()}") from None
        self.reader.join(timeout=30)  # the rest of the output
        return self.proc.returncode, self.text()


def wait_gone(procs: list[Proc], timeout: float = 10) -> list[Proc]:
    """Wait until none of ``procs`` runs; returns those still running at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in procs if is_running(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def table_counts(db) -> dict[str, int]:
    """Rows per store table (read-only)."""
    import duckdb

    from storage.store import TABLES

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()
