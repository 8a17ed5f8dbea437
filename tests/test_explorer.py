"""`egcfg explore`: the page lists what the store holds, escapes model output, loads per-problem
data lazily, reads a Parquet export; and (marked `browser`) clicks through it in Chromium."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from egcfg_core.records import (CandidateRecord, ExecutionRecord, LineRecord, SolveRecord,
                                TokenDecision)
from reports.explorer import safe_json, write_explorer
from storage import Store
from tests.test_report import GREEDY, G3, RUN_A, RUN_B, attempt, ev, fill_a, fill_b, problem

HOSTILE = "</script><script>window.PWNED=1</script><img src=x onerror=\"window.PWNED=2\">\u2028&amp;"
RUN_H = "hhhh4444eeee"


def hostile_solve() -> SolveRecord:
    cands = [CandidateRecord(0, "    return x  # " + HOSTILE + "\n", "def f(x):\n    return x\n", None,
                             [ExecutionRecord(0, 0, "passed", "", "trace A " + HOSTILE, {}, 0.01)]),
             CandidateRecord(1, "    return 0\n", "def f(x):\n    return 0\n", None,
                             [ExecutionRecord(1, 0, "failed", "AssertionError: " + HOSTILE, "trace B", {}, 0.01)]),
             CandidateRecord(2, "    return x\n", "def f(x):\n    return x\n", 0, [])]
    toks = [TokenDecision(2 + k, 100 + k, txt, 3.0, -2.0, -0.1, -0.2, [(200, -0.5), (100 + k, -2.0)],
                          [(100 + k, -0.1), (300, -1.0)], [(100 + k, -0.2)], flip)
            for k, (txt, flip) in enumerate([("    return", True), (" x", False), ("<b>", True)])]
    g_lines = [LineRecord(0, "", "", [], "def f(x):\n", [], {"decode_s": 0.1}),
               LineRecord(1, "def f(x):\n", "# signal " + HOSTILE, cands, "    return x<b>\n", toks,
                          {"sample_s": 0.5, "execute_s": 0.25, "prefill_s": 0.125, "decode_s": 1.0})]
    a0 = attempt(0, GREEDY, [], ["failed"], code="def f(x):\n    return 1\n")
    a1 = attempt(1, G3, g_lines, ["passed"])
    return SolveRecord(problem("Mbpp/7"), [a0, a1], 1, 1, a1.code, 3.0)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "x.duckdb"
    with Store(path) as s:
        fill_a(s)
        fill_b(s)
        s.ensure_run(RUN_H, {"benchmark": "mbpp", "gamma": [3.0]}, "toy", "v")
        s.write_problem(RUN_H, hostile_solve(), ev("Mbpp/7", True), wall_s=3.0)
    return path


def load_blob(path: Path) -> dict:
    text = path.read_text()
    m = re.fullmatch(r"EGCFG\.receive\((\d+),(.*)\);\n", text, re.S)
    return json.loads(m.group(2))


def test_safe_json_escapes():
    s = safe_json({"a": HOSTILE, "b": float("inf")})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s) == {"a": HOSTILE, "b": None}


def test_page_lists_the_store_and_escapes(db, tmp_path):
    res = write_explorer(db, RUN_H, out=tmp_path / "e")
    page = res["path"].read_text()
    assert res["problems"] == 1 and "PWNED" not in page
    assert "<script>window" not in page and "innerHTML" not in page
    data = (tmp_path / "e" / "data" / "0.js").read_text()
    assert "<" not in data and "onerror=\"" not in data
    blob = load_blob(tmp_path / "e" / "data" / "0.js")
    (run,) = blob["runs"]
    line = run["attempts"][1]["lines"][1]
    assert line["signal"] == "# signal " + HOSTILE
    assert [c["duplicate_of"] for c in line["candidates"]] == [None, None, 0]
    assert line["candidates"][0]["runs"][0]["trace"] == "trace A " + HOSTILE
    assert [t["text"] for t in line["tokens"] if t["flip"]] == ["    return", "<b>"]
    assert line["timings"]["prefill_s"] == 0.125
    meta = json.loads(re.search(r'id="meta">(.*?)</script>', page, re.S).group(1))
    (p,) = meta["problems"]
    assert p["task_id"] == "Mbpp/7" and p["only_egcfg"] and not p["none_passed"]


def test_filters_vs_and_parquet(db, tmp_path):
    res = write_explorer(db, RUN_A[:6], vs=RUN_B, out=tmp_path / "a")
    meta = json.loads(re.search(r'id="meta">(.*?)</script>', res["path"].read_text(), re.S).group(1))
    rows = {p["task_id"]: p for p in meta["problems"]}
    assert sorted(rows) == ["Mbpp/1", "Mbpp/2", "Mbpp/3"]
    assert rows["Mbpp/3"]["none_passed"] and not rows["Mbpp/1"]["none_passed"]
    assert rows["Mbpp/2"]["only_egcfg"] and "vs" in rows["Mbpp/2"] and "vs" not in rows["Mbpp/1"]
    blob = load_blob(tmp_path / "a" / "data" / "2.js")
    assert blob["runs"][1]["missing"] and blob["runs"][0]["task_id"] == "Mbpp/3"  # RUN_B lacks it
    assert load_blob(tmp_path / "a" / "data" / "1.js")["runs"][1]["attempts"]
    with Store(db, read_only=True) as s:
        s.export_parquet(tmp_path / "pq")
    res2 = write_explorer([tmp_path / "pq"], RUN_A, out=tmp_path / "b")
    assert res2["problems"] == 3
    assert load_blob(tmp_path / "b" / "data" / "1.js")["runs"][0] == load_blob(tmp_path / "a" / "data" / "1.js")["runs"][0]


def _browser():
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'egcfg[browser]')")
    return sync_playwright


@pytest.mark.browser
def test_click_through_in_chromium(db, tmp_path):
    sync_playwright = _browser()
    res = write_explorer(db, RUN_H, out=tmp_path / "e")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = b.new_page()
        page.goto(res["path"].resolve().as_uri())
        page.click("li[data-task='Mbpp/7']")
        page.click("button.attempt[data-agent='1']")
        page.click("pre.ln[data-line='1']")
        traces = page.locator(".run[data-run='0'] pre.trace").all_text_contents()
        assert traces == ["trace A " + HOSTILE.replace("\u2028", "\u2028"), "trace B"]
        flips = page.locator("span.tok.flip").all_text_contents()
        assert flips == ["    return", "<b>"]
        assert page.locator("pre.signal").text_content() == "# signal " + HOSTILE
        assert page.evaluate("window.PWNED === undefined")
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        b.close()


def test_explore_command_writes_the_page_and_names_a_bad_run(db, tmp_path):
    from typer.testing import CliRunner

    from egcfg_cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["explore", RUN_H, "--db", str(db), "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert "1 problems" in " ".join(res.output.split()) and (tmp_path / "cli" / "index.html").is_file()
    bad = runner.invoke(app, ["explore", "zzzz9999", "--db", str(db), "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "zzzz9999" in " ".join(bad.output.split())
    assert not (tmp_path / "bad" / "index.html").exists()
