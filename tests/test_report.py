"""`egcfg report`: figures computed independently from synthetic records, plots, --vs, shards,
unknown and empty runs, HTML, and the regenerate command."""
from __future__ import annotations

import os
import re
import shlex
import struct
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from egcfg_cli.report import report_cmd
from egcfg_core.records import (
    AgentConfig,
    AttemptRecord,
    EvaluationRecord,
    LineRecord,
    Problem,
    SolveRecord,
    TestCase as Case,
    TestOutcome as Outcome,
    TokenDecision,
)
from storage import Store, StoreError
from reports.report import (
    PAPER_LABEL,
    ReportError,
    UnknownRunError,
    collect,
    open_stores,
    write_report,
)

CONFIG = {"model": "toy-model", "benchmark": "mbpp", "tasks": "1-3", "t": [0.7],
          "gamma": [1.0, 3.0], "s": [2], "d": [1], "baseline": True, "decode": {"seed": 0},
          "fewshot": True, "eval_timeout_s": 10.0}
RUN_A = "aaaa1111bbbb"
RUN_B = "aaaa2222cccc"
GREEDY = AgentConfig(t=0.0, gamma=0.0, s=1, d=1)
G1 = AgentConfig(t=0.7, gamma=1.0, s=2, d=1)
G3 = AgentConfig(t=0.7, gamma=3.0, s=2, d=1)
LINE_T = {"sample_s": 0.5, "execute_s": 0.25, "prefill_s": 0.125, "decode_s": 1.0}
TEST_S = 0.2


# ----------------------------------------------------------------------------- synthetic records
def problem(tid: str, *, hidden_has_visible: bool = True) -> Problem:
    vis = (Case(source="assert f(1) == 1", call="f(1)"), Case(source="assert f(2) == 2", call="f(2)"))
    hidden = (vis + (Case(source="assert f(3) == 3", call="f(3)"),) if hidden_has_visible
              else (Case(source="def check(c):\n    assert c(5) == 5\ncheck(f)"),))
    return Problem(tid, "mbpp", f"task {tid}", "f", vis, hidden)


def line(li: int, gamma: float, signal: str, flips: list[bool], pos0: int, text: str) -> LineRecord:
    toks = [TokenDecision(position=pos0 + k, token_id=10 + k, token_text=f"tok{li}.{k}", gamma=gamma,
                          logp_uncond=-1.0, logp_guided=-0.5, logp_combined=-0.7,
                          topk_uncond=[(1, -0.1)], topk_guided=[(2, -0.1)], topk_combined=[(2, -0.1)],
                          argmax_changed=f) for k, f in enumerate(flips)]
    return LineRecord(li, "def f(x):\n", signal, [], text, toks, dict(LINE_T))


def attempt(i: int, agent: AgentConfig, lines: list[LineRecord], visible: list[str],
            code: str = "def f(x):\n    return x\n", stop: str = "eos") -> AttemptRecord:
    passed = all(s == "passed" for s in visible)
    return AttemptRecord(i, agent, code, stop, lines,
                         [Outcome(k, s, "" if s == "passed" else "AssertionError: ", 0.01)
                          for k, s in enumerate(visible)],
                         passed, {"test_s": TEST_S, "wall_s": 9.0})


def greedy_lines() -> list[LineRecord]:
    # No signal on a greedy line; argmax_changed is False there by construction.
    return [line(0, 0.0, "", [False, False], 0, "    return x\n")]


def guided_lines(gamma: float, flips1: list[bool]) -> list[LineRecord]:
    # Line 0 has no signal yet (unguided, even though gamma > 0): its "flip" must not count.
    return [line(0, gamma, "", [True, False], 0, "def f(x):\n"),
            line(1, gamma, "# Candidate ran: f(1) -> 1 | 'x' = 1\n" + "x" * 400, flips1, 2,
                 "    return x\n")]


def solve_p1() -> SolveRecord:
    """Baseline passes the visible tests: it wins and is final."""
    a0 = attempt(0, GREEDY, greedy_lines(), ["passed", "passed"])
    return SolveRecord(problem("Mbpp/1"), [a0], 0, 0, a0.code, 2.0)


def solve_p2(tid: str = "Mbpp/2", *, hidden_has_visible: bool = True) -> SolveRecord:
    """Baseline fails a visible test; gamma=1 fails; gamma=3 wins with 2 flipped tokens."""
    a0 = attempt(0, GREEDY, greedy_lines(), ["passed", "failed"], code="def f(x):\n    return 1\n")
    a1 = attempt(1, G1, guided_lines(1.0, [False, True, False, False]), ["failed", "failed"])
    a2 = attempt(2, G3, guided_lines(3.0, [True, True, False]), ["passed", "passed"])
    return SolveRecord(problem(tid, hidden_has_visible=hidden_has_visible), [a0, a1, a2], 2, 2,
                       a2.code, 6.0)


def solve_p3() -> SolveRecord:
    """Nobody passes; the baseline is final (best on visible, first on ties)."""
    a0 = attempt(0, GREEDY, greedy_lines(), ["passed", "failed"])
    a1 = attempt(1, G1, guided_lines(1.0, [False, False, False, False]), ["failed", "failed"])
    a2 = attempt(2, G3, guided_lines(3.0, [True, False, False]), ["failed", "failed"])
    return SolveRecord(problem("Mbpp/3"), [a0, a1, a2], None, 0, a0.code, 6.0)


def ev(tid: str, passed: bool) -> EvaluationRecord:
    return EvaluationRecord(tid, "mbpp", passed, [Outcome(0, "passed" if passed else "failed", "", 0.01)])


WALL = {"Mbpp/1": 3.0, "Mbpp/2": 12.0, "Mbpp/3": 15.0}


def fill_a(store: Store) -> None:
    store.ensure_run(RUN_A, CONFIG, "toy-model", "deadbeef")
    store.write_problem(RUN_A, solve_p1(), ev("Mbpp/1", True), wall_s=WALL["Mbpp/1"])
    store.write_problem(RUN_A, solve_p2(), ev("Mbpp/2", True), wall_s=WALL["Mbpp/2"])
    store.write_problem(RUN_A, solve_p3(), ev("Mbpp/3", False), wall_s=WALL["Mbpp/3"])


def fill_b(store: Store) -> None:
    """A HumanEval-like run: hidden tests do not contain the visible ones, so the baseline's
    failure on hidden tests is not implied and its hidden pass@1 must not be reported."""
    store.ensure_run(RUN_B, {**CONFIG, "gamma": [3.0]}, "toy-model", "deadbeef")
    store.write_problem(RUN_B, solve_p2("Mbpp/2", hidden_has_visible=False), ev("Mbpp/2", True),
                        wall_s=10.0)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "a.duckdb"
    with Store(path) as s:
        fill_a(s)
        fill_b(s)
    return path


def cells(md: str, label: str) -> list[str]:
    """The cells after the first of the Markdown table row whose first cell is ``label``."""
    for ln in md.splitlines():
        parts = [c.strip() for c in ln.strip().strip("|").split(" | ")]
        if ln.startswith("|") and parts[0] == label:
            return parts[1:]
    raise AssertionError(f"no table row {label!r} in the report")


def assert_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    assert w > 200 and h > 200
    import matplotlib.image

    assert matplotlib.image.imread(str(path)).shape[:2] == (h, w)  # decodes fully
    return w, h


# ----------------------------------------------------------------------------- figures
def test_figures_match_independent_computation(db, tmp_path):
    out = write_report([db], RUN_A, out=tmp_path / "rep" / "r.md")
    md = out.read_text()
    # pass@1 of the final solution on hidden tests: P1 pass, P2 pass, P3 fail.
    assert cells(md, "**final solution, pass@1 on hidden tests**")[0] == "2/3 = 66.7%"
    assert cells(md, "final solution, pass@1 on visible tests")[0] == "2/3 = 66.7%"
    # Baseline: P1 scored pass (final), P2 implied fail (failed visible test 1, also hidden),
    # P3 scored fail (final).
    assert cells(md, "baseline (γ=0 greedy) pass@1 (hidden)")[0] == "1/3 = 33.3%"
    assert cells(md, "baseline (γ=0 greedy) pass@1 on VISIBLE tests (not hidden)")[0] == "1/3 = 33.3%"
    assert cells(md, "ORACLE (not pass@1): any attempt passed the visible tests")[0] == "2/3 = 66.7%"
    assert "2 problem(s) scored directly" in md and "1 implied failures" in md
    assert "**+33.3 points**" in md
    # Paper figures beside ours, labelled.
    head = next(ln for ln in md.splitlines() if ln.startswith("| metric"))
    assert f"{PAPER_LABEL}, mbpp" in head
    assert cells(md, "**final solution, pass@1 on hidden tests**")[1] == "83.2%"
    assert cells(md, "baseline (γ=0 greedy) pass@1 (hidden)")[1] == "49.4%"

    # Agents: greedy ran on 3 problems, won 1; gamma=1 ran on 2, won 0; gamma=3 ran on 2, won 1.
    rows = {r[0]: r for r in (cells(md, "`greedy`"), cells(md, "`t0.7_g1_s2_d1`"),
                               cells(md, "`t0.7_g3_s2_d1`"))}
    assert rows["0"][4:9] == ["3 of 3", "0", "1/3 = 33.3%", "1", "2"]
    assert rows["1"][4:9] == ["2 of 3", "0", "0/2 = 0.0%", "0", "0"]
    assert rows["3"][4:9] == ["2 of 3", "0", "1/2 = 50.0%", "1", "1"]

    # Flip rate over guided lines only (line 1 of guided attempts; line 0 has no signal).
    # gamma=1: P2 [F,T,F,F] + P3 [F,F,F,F] -> 1/8; gamma=3: P2 [T,T,F] + P3 [T,F,F] -> 3/6.
    assert cells(md, "1")[:4] == ["8", "12.5%", "1", "1 of 2"]
    assert cells(md, "3")[:4] == ["6", "50.0%", "3", "2 of 2"]

    # Time per problem by stage: lines per problem P1 1, P2 1+2+2, P3 1+2+2 -> 11 lines / 3.
    n_lines, n_attempts, wall = 11, 7, sum(WALL.values())
    for stage, key in (("sample", "sample_s"), ("execute", "execute_s"), ("prefill", "prefill_s"),
                       ("decode", "decode_s")):
        assert cells(md, stage)[0] == f"{n_lines * LINE_T[key] / 3:.2f}"
    assert cells(md, "test (visible)")[0] == f"{n_attempts * TEST_S / 3:.2f}"
    stages = n_lines * sum(LINE_T.values()) / 3 + n_attempts * TEST_S / 3
    assert cells(md, "**sum of stages**")[0] == f"{stages:.2f}"
    assert cells(md, "other")[0] == f"{wall / 3 - stages:.2f}"
    assert cells(md, "**problem wall time**")[0] == f"{wall / 3:.2f}"

    # The signal-fixed table: only P2 (baseline failed visible, gamma=3 won), guided line 1 with
    # its two flipped tokens and the signal excerpt (line 0 has no signal: not listed).
    fix_rows = [ln for ln in md.splitlines() if ln.startswith("| Mbpp/")]
    assert [r.split(" | ")[2] for r in fix_rows] == ["1"]
    assert all("Mbpp/2" in r for r in fix_rows)
    assert '"tok1.0", "tok1.1"' in fix_rows[0]
    assert "Candidate ran: f(1) -> 1 \\| 'x' = 1" in fix_rows[0]  # pipe escaped, newline marked
    assert fix_rows[0].count("x") < 400 and "…" in fix_rows[0]  # an excerpt, not the whole signal
    assert fix_rows[0].rstrip(" |").endswith("pass")

    # Plots exist, are valid PNGs, and are linked relative to the report.
    for name in ("pass_at_1", "by_gamma_t", "stages", "flips"):
        png = out.parent / f"r-{name}.png"
        assert_png(png)
        assert f"](r-{name}.png)" in md
    # It ends with the command that regenerates it.
    assert md.rstrip().endswith("```")
    assert f"egcfg report {RUN_A} --db {db} --out {out}" in md.splitlines()[-2]


def test_collect_counts(db):
    con = open_stores(db)
    try:
        a = collect(con, RUN_A)
        b = collect(con, RUN_B)
    finally:
        con.close()
    assert (a.done, a.evaluated, a.passed_hidden, a.baseline_scored, a.baseline_implied,
            a.baseline_unknown, a.baseline_passed_hidden) == (3, 3, 2, 2, 1, 0, 1)
    assert a.baseline_hidden == pytest.approx(1 / 3) and a.pass_at_1 == pytest.approx(2 / 3)
    assert (b.baseline_scored, b.baseline_implied, b.baseline_unknown) == (0, 0, 1)
    assert b.baseline_hidden is None and b.baseline_visible == 0.0


def test_baseline_not_scored_falls_back_to_visible_and_vs(db, tmp_path):
    out = write_report(db, RUN_B, vs=RUN_A[:6] + "11", out=tmp_path / "b.md")
    md = out.read_text()
    base = cells(md, "baseline (γ=0 greedy) pass@1 (hidden)")
    assert base[0].startswith("not available") and "1 of 1" in base[0]
    assert base[1] == "1/3 = 33.3%"  # the --vs run
    assert cells(md, "baseline (γ=0 greedy) pass@1 on VISIBLE tests (not hidden)")[:2] == \
        ["0/1 = 0.0%", "1/3 = 33.3%"]
    assert cells(md, "**final solution, pass@1 on hidden tests**")[:2] == \
        ["1/1 = 100.0%", "2/3 = 66.7%"]
    assert "pass@1 on VISIBLE tests is given instead" in md
    assert f"run {RUN_B} vs {RUN_A}" in md.splitlines()[0]
    assert f"--vs {RUN_A}" in md  # the regenerate command names the resolved id


def test_shards_and_prefix(tmp_path):
    a, b = tmp_path / "s0.duckdb", tmp_path / "s1.duckdb"
    with Store(a) as s:
        fill_a(s)
    with Store(b) as s:
        fill_b(s)
    out = write_report([a, b], "aaaa2", vs="aaaa1", out=tmp_path / "sh.md")
    md = out.read_text()
    assert cells(md, "**final solution, pass@1 on hidden tests**")[:2] == \
        ["1/1 = 100.0%", "2/3 = 66.7%"]
    assert f"--db {a} --db {b}" in md


def test_unknown_and_ambiguous_run(db, tmp_path):
    with pytest.raises(UnknownRunError) as exc:
        write_report(db, "nope", out=tmp_path / "x.md")
    assert RUN_A in str(exc.value) and RUN_B in str(exc.value) and "'nope'" in str(exc.value)
    with pytest.raises(UnknownRunError, match="ambiguous"):
        write_report(db, "aaaa", out=tmp_path / "x.md")
    with pytest.raises(ReportError, match="format"):
        write_report(db, RUN_A, out=tmp_path / "x.pdf", fmt="pdf")
    assert not (tmp_path / "x.md").exists()


def test_empty_and_unevaluated_runs(tmp_path):
    path = tmp_path / "e.duckdb"
    with Store(path) as s:
        s.ensure_run("empty0000000", CONFIG, "toy-model", "v1")
        s.ensure_run("noeval000000", CONFIG, "toy-model", "v1")
        s.write_problem("noeval000000", solve_p1(), None, wall_s=1.0)
        s.record_failure("noeval000000", "Mbpp/9", "mbpp", "RuntimeError: boom")
    out = write_report(path, "empty", out=tmp_path / "e.md")
    md = out.read_text()
    assert "no problem is done yet" in md
    assert "No attempts are stored yet." in md
    assert "No guided lines yet" in md and "No timings yet" in md
    assert cells(md, "**final solution, pass@1 on hidden tests**")[0] == "n/a (0 problems)"
    assert not list(tmp_path.glob("e-*.png"))  # nothing to plot, and no empty plots

    md = write_report(path, "noeval", vs="empty", out=tmp_path / "n.html", fmt="html").read_text()
    assert md.startswith("<!DOCTYPE html>") and "<table>" in md
    assert "1 of 1 final solutions are not scored on hidden tests yet" in md
    assert "1 problem(s) failed" in md
    assert "No guided lines yet" in md
    assert '<img src="n-stages.png"' in md and '<img src="n-flips.png"' not in md
    assert_png(tmp_path / "n-stages.png")


def test_the_run_table_names_a_prompt_style_other_than_describe(tmp_path):
    path = tmp_path / "p.duckdb"
    with Store(path) as s:
        s.ensure_run("evalplus0000", {**CONFIG, "benchmark": "humaneval", "fewshot": False,
                                      "prompt_style": "evalplus"}, "toy-model", "v1")
        s.ensure_run("describe0000", CONFIG, "toy-model", "v1")
    md = write_report(path, "evalplus", vs="describe", out=tmp_path / "p.md").read_text()
    assert cells(md, "few-shot prompt") == ["False (prompt style evalplus)", "True"]


def test_figures_dir_and_html(db, tmp_path):
    out = write_report(db, RUN_A, out=tmp_path / "doc" / "rep.html", fmt="html",
                       figures_dir=tmp_path / "figs", papers=None)
    text = out.read_text()
    assert '<img src="../figs/rep-pass_at_1.png"' in text
    assert_png(tmp_path / "figs" / "rep-flips.png")
    assert PAPER_LABEL not in text  # papers=None leaves them out
    assert "<td>2/3 = 66.7%</td>" in text
    assert "--figures-dir" in text and "--no-papers" in text


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("report")(report_cmd)
    app.command("other")(lambda: None)  # keep "report" a subcommand
    return app


def test_cli_and_regenerate_command(db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "c.md"
    res = runner.invoke(_cli(), ["report", RUN_A[:8], "--vs", RUN_B, "--db", str(db),
                                 "--out", str(out)])
    assert res.exit_code == 0, res.output
    first = out.read_text()
    command = re.search(r"```sh\n(.*)\n```", first).group(1)
    argv = shlex.split(command)
    assert argv[:3] == ["egcfg", "report", RUN_A]
    out.unlink()
    res = runner.invoke(_cli(), argv[1:])
    assert res.exit_code == 0, res.output
    assert out.read_text() == first  # the printed command regenerates the same report

    res = runner.invoke(_cli(), ["report", "zzz", "--db", str(db), "--out", str(tmp_path / "z.md")])
    assert res.exit_code == 2
    assert "no run 'zzz'" in res.output and RUN_A in res.output
    res = runner.invoke(_cli(), ["report", RUN_A, "--db", str(tmp_path / "missing.duckdb")])
    assert res.exit_code == 2 and "no store" in res.output
    res = runner.invoke(_cli(), ["report", RUN_A, "--db", str(db), "--out", str(tmp_path / "r.pdf")])
    assert res.exit_code == 2 and ".md or .html" in res.output
    assert not list(tmp_path.glob("r*"))  # nothing written


RUN_S = "ssss3333dddd"
SAMPLER = AgentConfig(t=0.7, gamma=0.0, s=0, d=0, replicate=0)


def fill_sampler(store: Store) -> None:
    """The sampling ablation: greedy + 2 samplers (no signal). Mbpp/2: the first sampler wins."""
    store.ensure_run(RUN_S, {**CONFIG, "gamma": [], "sample_t": [0.7], "sample_n": 2},
                     "toy-model", "deadbeef")
    store.write_problem(RUN_S, solve_p1(), ev("Mbpp/1", True), wall_s=2.0)
    a0 = attempt(0, GREEDY, greedy_lines(), ["passed", "failed"], code="def f(x):\n    return 1\n")
    a1 = attempt(1, SAMPLER, greedy_lines(), ["passed", "passed"])
    store.write_problem(RUN_S, SolveRecord(problem("Mbpp/2"), [a0, a1], 1, 1, a1.code, 4.0),
                        ev("Mbpp/2", False), wall_s=4.0)


def test_several_vs_runs_and_the_sampling_ablation(db, tmp_path):
    with Store(db) as s:
        fill_sampler(s)
        for run, passed in ((RUN_A, {"Mbpp/1": True, "Mbpp/2": True, "Mbpp/3": False}),
                            (RUN_S, {"Mbpp/1": True, "Mbpp/2": False})):
            for tid, ok in passed.items():
                s.write_suite_evaluation(run, "mbpp-et", EvaluationRecord(
                    tid, "mbpp-et", ok, [Outcome(0, "passed" if ok else "failed", "", 0.01)]))
    out = tmp_path / "three.md"
    runner = CliRunner()
    res = runner.invoke(_cli(), ["report", RUN_A, "--vs", RUN_B, "--vs", RUN_S[:6], "--db", str(db),
                                 "--out", str(out)])
    assert res.exit_code == 0, res.output
    md = out.read_text()
    assert md.splitlines()[0] == f"# EG-CFG report: run {RUN_A} vs {RUN_B}, {RUN_S}"
    assert cells(md, "agents") == ["greedy + 2 EG-CFG agents", "greedy + 1 EG-CFG agent",
                                   "greedy + 2 samplers (γ = 0, t = 0.7; no signal)"]
    assert cells(md, "grid t")[2] == "-"  # no guided agents: the grid does not apply
    assert cells(md, "**final solution, pass@1 on hidden tests**")[:3] == \
        ["2/3 = 66.7%", "1/1 = 100.0%", "1/2 = 50.0%"]
    # the sampler's wins are its own (greedy failed Mbpp/2, the sampler passed the visible tests)
    assert re.search(r"\| ssss3333 \| `sample_t0.7_r0` .*\| 1 of 2 \| 0 \| 1/1 = 100.0% \| 1 \| 1 \| 0 \|", md), md
    et = cells(md, "**hidden pass@1 on mbpp-et** (same final solutions, scored after the run)")
    assert et[:3] == ["2/3 = 66.7%", "not scored on mbpp-et", "1/2 = 50.0%"]
    assert f"Run `{RUN_A}` minus run `{RUN_S}` on mbpp-et: **+16.7 points**." in md
    assert f"Run `{RUN_S}` (greedy + 2 samplers (γ = 0, t = 0.7; no signal)): final solution minus " \
           f"its own greedy baseline on hidden tests: **+0.0 points**." in md
    assert "no guided agents (greedy + 2 samplers" in md  # no signal to show for the ablation
    command = re.search(r"```sh\n(.*)\n```", md).group(1)
    assert f"--vs {RUN_B} --vs {RUN_S}" in command
    out.unlink()
    assert runner.invoke(_cli(), shlex.split(command)[1:]).exit_code == 0
    assert out.read_text() == md
    with pytest.raises(ReportError, match="named twice"):
        write_report(db, RUN_A, vs=[RUN_B, RUN_A[:6]], out=tmp_path / "x.md")


# ----------------------------------------------------------------------------- byte-identical output
GOLDEN = Path(__file__).parent / "fixtures" / "report_golden"


def golden_reports(work: Path) -> dict[str, bytes]:
    """The reports of a fixed synthetic store, written in ``work`` with relative paths (so the
    printed regenerate command does not depend on where it runs) and fixed run timestamps.

    tests/fixtures/report_golden/ holds what the code of storage/report.py wrote before the
    report moved into reports/ (issue 12); regenerate it only on purpose:
    ``python -c "from tests.test_report import write_golden; write_golden()"``."""
    import duckdb

    cwd = os.getcwd()
    os.chdir(work)
    try:
        with Store("g.duckdb") as s:
            fill_a(s)
            fill_b(s)
            fill_sampler(s)
            s.write_suite_evaluation(RUN_A, "mbpp-et", EvaluationRecord(
                "Mbpp/2", "mbpp-et", False, [Outcome(0, "failed", "AssertionError: ", 0.01)]))
        con = duckdb.connect("g.duckdb")
        con.execute("UPDATE runs SET created_at = TIMESTAMP '2026-01-02 03:04:05', "
                    "updated_at = TIMESTAMP '2026-01-02 04:05:06'")
        con.close()
        made = {
            "a_vs_b_s.md": write_report("g.duckdb", RUN_A, vs=[RUN_B, RUN_S], out=Path("a_vs_b_s.md")),
            "b.html": write_report(["g.duckdb"], RUN_B[:6], out=Path("out/b.html"), fmt="html",
                                   figures_dir=Path("figs"), papers=None),
            "s.md": write_report("g.duckdb", RUN_S, vs=RUN_A, out=Path("s.md")),
        }
        out = {name: Path(p).read_bytes() for name, p in made.items()}
        # the figures each report made (their bytes depend on the matplotlib version)
        out["figures.txt"] = "\n".join(sorted(
            str(p) for p in Path(".").rglob("*.png"))).encode() + b"\n"
        return out
    finally:
        os.chdir(cwd)


def write_golden() -> None:  # pragma: no cover - run by hand, see golden_reports
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, data in golden_reports(Path(d)).items():
            (GOLDEN / name).write_bytes(data)


def test_report_output_is_byte_identical_to_the_golden(tmp_path):
    got = golden_reports(tmp_path)
    want = {p.name: p.read_bytes() for p in GOLDEN.iterdir()}
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs from tests/fixtures/report_golden/{name}"


def test_a_store_and_a_results_folder_together_are_refused_clearly(db, tmp_path):
    folder = tmp_path / "results" / "exp"
    folder.mkdir(parents=True)
    with pytest.raises(StoreError, match=r"cannot be read together with store files.*egcfg results export"):
        open_stores([db, folder])


def test_wins_by_source_and_equal_compute(db, tmp_path):
    """Where each final solution came from (attempts.code_source) and the equal-compute section:
    each run truncated to its first k agents on the problems both finished (every toy attempt took
    9 s), each read at the other's budget, the paired comparison at each one's compute, a figure."""
    with Store(db) as s:
        fill_sampler(s)
        for run, scores in ((RUN_A, {"Mbpp/1": [True], "Mbpp/2": [False, False, True], "Mbpp/3": [False] * 3}),
                            (RUN_S, {"Mbpp/1": [True], "Mbpp/2": [False, False]})):
            for tid, oks in scores.items():
                s.write_attempt_evaluations(run, "mbpp", tid, [(i, ev(tid, ok)) for i, ok in enumerate(oks)])
    md = write_report(db, RUN_A, vs=[RUN_S], out=tmp_path / "r.md").read_text()
    sources = md[md.index("## Where the final solutions came from"):md.index("## Equal compute")]
    for row in ("| aaaa1111 | `greedy` | 2 | 1 | 1 | - |", "| aaaa1111 | `guided` | 1 | 1 | 1 | - |",
                "| ssss3333 | `greedy` | 1 | 1 | 1 | - |", "| ssss3333 | `sampler` | 1 | 1 | 0 | - |",
                "| aaaa1111 | `guided` | 4 | 1/4 = 25.0% |", "| ssss3333 | `sampler` | 1 | 1/1 = 100.0% |"):
        assert row in sources, row
    compute = md[md.index("## Equal compute"):md.index("## How often guidance")]
    assert "Not measured by every attempt of these runs, so not shown: model tokens, sandbox executions, CPU seconds" in compute
    assert "| run | agents | mean s per problem | solved on mbpp (of 2) |" in compute
    for row in ("| run aaaa1111: EG-CFG, greedy + 2 EG-CFG agents | 2 | 13.5 s | 1/2 = 50.0% |",
                "| run aaaa1111: EG-CFG, greedy + 2 EG-CFG agents | 3 | 18.0 s | 2/2 = 100.0% |",
                "| run ssss3333: sampling, greedy + 2 samplers | 2 | 13.5 s | 1/2 = 50.0% |"):
        assert row in compute, row
    # the sampling run ended every problem at a visible pass: read past its last point, it stays there
    assert ("read at the budget of run aaaa1111: EG-CFG, greedy + 2 EG-CFG agents (its whole run, 18.0 s per "
            "problem, 2/2 = 100.0%): 1/2 = 50.0% with its first 2 agents (13.5 s).") in compute
    # Mbpp/2: at EG-CFG's 27 s the sampler's win (failing the hidden tests) fits; at the sampling
    # run's 18 s EG-CFG runs greedy + γ=1 and fails: no difference
    assert ("spent on each problem: run aaaa1111 minus run ssss3333 on 2 problems: 1 to 0, +50.0 points") in compute
    assert ("spent on each problem: run aaaa1111 minus run ssss3333 on 2 problems: 0 to 0, +0.0 points") in compute
    assert "![problems solved against compute spent](r-budget.png)" in compute and (tmp_path / "r-budget.png").is_file()


def test_equal_compute_in_every_unit_a_metered_run_has(tmp_path):
    """A run whose every attempt carries the compute meter's counts is read in model tokens, sandbox
    executions and CPU seconds too (attempt.compute -> the attempts columns)."""
    from dataclasses import replace

    from egcfg_core.compute import ATTEMPT_FIELDS

    def metered(rec, k):
        cost = {f: 0.0 for f in ATTEMPT_FIELDS}
        cost.update(prefill_tokens=100.0 * k, sampled_tokens=50.0, sandbox_runs=4.0, process_cpu_s=2.0,
                    sandbox_cpu_s=0.5, wall_s=9.0)
        return replace(rec, attempts=[replace(a, compute=dict(cost)) for a in rec.attempts])
    db = tmp_path / "m.duckdb"
    with Store(db) as s:
        s.ensure_run(RUN_A, CONFIG, "toy-model", "deadbeef")
        s.write_problem(RUN_A, metered(solve_p1(), 1), ev("Mbpp/1", True), wall_s=1.0)
        s.write_problem(RUN_A, metered(solve_p2(), 2), ev("Mbpp/2", True), wall_s=1.0)
        for tid, oks in (("Mbpp/1", [True]), ("Mbpp/2", [False, False, True])):
            s.write_attempt_evaluations(RUN_A, "mbpp", tid, [(i, ev(tid, ok)) for i, ok in enumerate(oks)])
    md = write_report(db, RUN_A, out=tmp_path / "m.md").read_text()
    assert ("| run | agents | mean s per problem | mean tokens per problem | mean executions per problem | "
            "mean CPU s per problem | solved on mbpp (of 2) |") in md
    # Mbpp/1: greedy only (150 tokens); Mbpp/2: three attempts of 250 tokens each
    assert "| run aaaa1111: EG-CFG, greedy + 2 EG-CFG agents | 3 | 18.0 s | 450 tokens | 8.0 executions | 5.0 CPU s | 2/2 = 100.0% |" in md
    assert "Not measured by every attempt" not in md
