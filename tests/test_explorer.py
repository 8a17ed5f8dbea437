"""`egcfg explore`: the page lists what the store holds, escapes model output, loads per-problem
data lazily, reads a Parquet export and a results export (no lines: it says so); each line of an
attempt carries where it came from and each token whether it was guided / flipped, checked on a
store of real decoding (the tiny model, steered); and (marked `browser`) clicks through it in
Chromium, saving a screenshot (EGCFG_EXPLORER_PNG=docs/explorer.png regenerates the docs' picture)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from egcfg_core.records import (AgentConfig, CandidateRecord, ExecutionRecord, LineRecord, SolveRecord,
                                TestCase, TokenDecision)
from reports.explorer import safe_json, write_explorer
from storage import Store
from storage.readers import open_stores
from storage.export import export_results
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
                          {"sample_s": 0.5, "execute_s": 0.25, "prefill_s": 0.125, "decode_s": 1.0}),
               LineRecord(2, "def f(x):\n    return x<b>\n", "", [], "    # " + HOSTILE + "\n", [], {})]
    a0 = attempt(0, GREEDY, [], ["failed"], code="def f(x):\n    return 1\n")
    a1 = attempt(1, G3, g_lines, ["passed"], code="def f(x):\n    return x\n    # " + HOSTILE + "\n")
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


# ---- a store of real decoding: the tiny model, steered (tests.tiny.steer's idea, for two streams)
WRONG = "def add(a, b):\n    c = a - b\n    return c\n```\n"
RIGHT = "def add(a, b):\n    c = a + b\n    return c\n```\n"


class SteerPair:
    """A forward hook: p_sol writes WRONG (RIGHT's differing token a close second: inside the
    plausibility mask, so guidance may choose it), p_dyn (the prompt with the signal) writes RIGHT.  Rows are told apart by
    position: p_dyn's extend holds signal + prompt tail + code, found by the tail's last
    occurrence; its rows from then on are past where p_sol and its drafts ever reach.  So the
    greedy baseline fails, the signal of the line with `-` flips it to `+`, and with
    accept_verified the next line's draft (`return c`) completes a passing function."""

    def __init__(self, model, start: int, tail: list[int], sol: list[int], dyn: list[int], bias: float = 30.0):
        self.start, self.tail, self.sol, self.dyn, self.bias = start, tail, sol, dyn, bias
        self.dyn_start: int | None = None
        self.handle = model.register_forward_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs, out):
        ids, positions = kwargs["input_ids"], kwargs.get("position_ids")
        if positions is not None:
            last = positions[:, -1].tolist()
        else:
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            last = [cache.get_seq_length() - 1] * out.logits.shape[0]
        row, n, t = ids[0].tolist(), ids.shape[1], len(self.tail)
        hits = [i for i in range(1, n - t + 1) if row[i:i + t] == self.tail]
        if hits:  # p_dyn's extend: its code starts after the tail
            self.dyn_start = last[0] - n + 1 + hits[-1] + t
            assert self.dyn_start > self.start + 200, "p_dyn's rows must lie past p_sol's"
        for r, pos in enumerate(last):
            dyn = self.dyn_start is not None and pos + 1 >= self.dyn_start
            k = pos + 1 - (self.dyn_start if dyn else self.start)
            target = self.dyn if dyn else self.sol
            if 0 <= k < len(target):
                out.logits[r, -1, target[k]] += self.bias
                if not dyn and self.dyn[k] != target[k]:
                    out.logits[r, -1, self.dyn[k]] += self.bias - 1.0
        return out


TINY_AGENTS = [AgentConfig(t=0.0, gamma=0.0, s=0, d=0), AgentConfig(t=0.7, gamma=1.0, s=3, d=1)]


def tiny_config(accept_verified: bool) -> dict:
    from egcfg_core.decoding import DecodeSettings

    decode = asdict(DecodeSettings(max_new_tokens=80, max_lines=6, exec_workers=1, skip_certain="header",
                                   accept_verified=accept_verified))
    return {"benchmark": "toy", "model": "tiny (tests/tiny.py, steered)", "tasks": "toy/add, toy/add-4",
            "t": [0.7], "gamma": [1.0], "s": [3], "d": [1], "baseline": True, "fewshot": False,
            "eval_timeout_s": 10.0, "decode": decode}


def run_id_of(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def build_tiny_store(path: Path) -> tuple[str, str]:
    """Solve two problems with the tiny model (steered by SteerPair) in two runs, one with
    accept_verified and one without, into the store at ``path``; returns the two run ids.
    toy/add: greedy fails; the guided agent flips `-` to `+` and passes (through an accepted draft
    of its next line, or by its own lines).  toy/add-4: a visible test no sum passes."""
    import torch

    from egcfg_core.agents import solve
    from egcfg_core.decoding import DecodeSettings
    from egcfg_core.engines.transformers import TransformersEngine
    from egcfg_core.evaluation import evaluate
    from egcfg_core.prompts import build_prompt
    from egcfg_core.sandbox import SandboxPool
    from tests.test_verified import ADD
    from tests.tiny import tiny_model

    add = replace(ADD, hidden_tests=ADD.visible_tests + (TestCase(source="assert add(5, 5) == 10", call="add(5, 5)"),))
    add4 = replace(add, task_id="toy/add-4", visible_tests=(TestCase(source="assert add(1, 2) == 4", call="add(1, 2)"),))
    model, tok = tiny_model(seed=3)
    lm = TransformersEngine(model, tok)
    runs = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (conftest's one_torch_thread: steady on a busy 2-core machine)
    try:
        with SandboxPool(1) as pool, Store(path) as store:
            for accept in (True, False):
                cfg = tiny_config(accept)
                settings = DecodeSettings(**cfg["decode"])
                rid = run_id_of(cfg)
                store.ensure_run(rid, cfg, cfg["model"], "test")
                for prob in (add, add4):
                    parts = build_prompt(prob, tok)
                    tail = lm.encode(parts.tail)
                    hook = SteerPair(model, len(lm.encode(parts.head)) + len(tail), tail,
                                     lm.encode(WRONG), lm.encode(RIGHT))
                    try:
                        rec = solve(prob, lm, TINY_AGENTS, settings=settings, pool=pool)
                    finally:
                        hook.handle.remove()
                    store.write_problem(rid, rec, evaluate(prob, rec.solution, pool=pool), wall_s=rec.wall_s)
                runs.append(rid)
    finally:
        torch.set_num_threads(threads)
    return runs[0], runs[1]


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> tuple[Path, str, str]:
    """(store, run with accept_verified, run without): see build_tiny_store."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    return (path, *build_tiny_store(path))


def load_blob(path: Path) -> dict:
    text = path.read_text()
    m = re.fullmatch(r"EGCFG\.receive\((\d+),(.*)\);\n", text, re.S)
    return json.loads(m.group(2))


def test_safe_json_escapes():
    s = safe_json({"a": HOSTILE, "b": float("inf")})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s) == {"a": HOSTILE, "b": None}


def meta_of(page: str) -> dict:
    return json.loads(re.search(r'id="meta">(.*?)</script>', page, re.S).group(1))


def test_page_lists_the_store_and_escapes(db, tmp_path):
    res = write_explorer(db, RUN_H, out=tmp_path / "e")
    page = res["path"].read_text()
    assert res["problems"] == 1 and "PWNED" not in page
    # the page's script writes data as text: no HTML parsing of strings anywhere in it
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in page, sink
    assert "<script>window" not in page
    data = (tmp_path / "e" / "data" / "0.js").read_text()
    assert "<" not in data and "onerror=\"" not in data
    blob = load_blob(tmp_path / "e" / "data" / "0.js")
    (run,) = blob["runs"]
    att = run["attempts"][1]
    assert att["code"].endswith("    # " + HOSTILE + "\n") and att["lines"][2]["chosen_text"] == "    # " + HOSTILE + "\n"
    line = att["lines"][1]
    assert line["signal"] == "# signal " + HOSTILE
    assert [c["duplicate_of"] for c in line["candidates"]] == [None, None, 0]
    assert [c["carried_from"] for c in line["candidates"]] == [None, None, None]  # sampled at their line
    assert line["candidates"][0]["runs"][0]["trace"] == "trace A " + HOSTILE
    assert [t["text"] for t in line["tokens"] if t["flip"]] == ["    return", "<b>"]
    assert line["timings"]["prefill_s"] == 0.125
    (p,) = meta_of(page)["problems"]
    assert p["task_id"] == "Mbpp/7" and p["only_egcfg"] and not p["none_passed"]


def test_filters_vs_and_parquet(db, tmp_path):
    res = write_explorer(db, RUN_A[:6], vs=RUN_B, out=tmp_path / "a")
    rows = {p["task_id"]: p for p in meta_of(res["path"].read_text())["problems"]}
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


def test_lines_carry_their_source_and_tokens_their_guidance(tiny_store, tmp_path):
    """Real decoding (the tiny model, steered): each line's badge and each token's guided / flipped
    flag, and that they add up to the attempt's stored attribution."""
    path, run_x, run_y = tiny_store
    res = write_explorer(path, run_x, vs=run_y, out=tmp_path / "e")
    meta = meta_of(res["path"].read_text())
    rows = {p["task_id"]: p for p in meta["problems"]}
    assert (rows["toy/add"]["final_source"], rows["toy/add"]["passed_hidden"]) == ("draft", True)
    assert rows["toy/add"]["vs"]["final_source"] == "guided"
    assert rows["toy/add-4"]["none_passed"] and rows["toy/add-4"]["final_source"] == "greedy"
    assert meta["runs"][0]["config"]["decode"]["accept_verified"] and meta["runs"][0]["has_lines"]
    assert "sandbox_runs" in meta["fields"]
    x, y = load_blob(tmp_path / "e" / "data" / "0.js")["runs"]
    greedy, draft = x["attempts"]
    assert greedy["code_source"] == "greedy" and "a - b" in greedy["code"] and not greedy["passed_visible"]
    assert {ln["source"] for ln in greedy["lines"]} == {"greedy"}
    assert not any(t["g"] or t["flip"] for ln in greedy["lines"] for t in ln["tokens"])
    assert greedy["lines"][-1]["chosen_text"] == "```" and not greedy["lines"][-1]["in_code"]  # the fence
    # the guided agent: header skipped, `-` flipped to `+` under the signal, then the draft accepted
    assert (draft["code_source"], draft["stop_reason"], draft["verified_line"], draft["verified_candidate"]) == \
        ("draft", "verified", 2, 0)
    assert draft["code"] == RIGHT.split("```")[0]
    assert [(ln["source"], ln["skip_rule"]) for ln in draft["lines"]] == [("skipped", "header"), ("guided", ""), ("draft", "")]
    header, guided, accepted = draft["lines"]
    assert not any(t["g"] for t in header["tokens"]) and all(t["g"] for t in guided["tokens"])
    assert [t["text"] for t in guided["tokens"] if t["flip"]] == ["+"]
    flip = next(t for t in guided["tokens"] if t["flip"])
    assert flip["lg"] > flip["lu"] and flip["tu"][0]["id"] != flip["id"] and flip["tc"][0]["id"] == flip["id"]
    assert x["vocab"][str(flip["id"])] == "+"
    assert guided["signal"] and guided["candidates"] and all(c["runs"] for c in guided["candidates"] if c["duplicate_of"] is None)
    assert accepted["tokens"] == [] and accepted["chosen_text"] == "    return c\n"
    assert [c["accepted"] for c in accepted["candidates"]] == [True, False, False]
    assert [r["status"] for r in accepted["candidates"][0]["runs"]] == ["passed", "passed"]
    assert "passed" in accepted["candidates"][0]["runs"][0]["trace"]
    # the marks agree with the stored attribution (tokens in the code only)
    for att in (*x["attempts"], *y["attempts"]):
        toks = [t for ln in att["lines"] for t in ln["tokens"] if t["in_code"]]
        assert att["final_tokens"] == len(toks), att["agent_name"]
        assert att["final_guided_tokens"] == sum(t["g"] for t in toks)
        assert att["final_flipped_tokens"] == sum(t["g"] and t["flip"] for t in toks)
        assert att["final_guided_lines"] == sum(ln["source"] == "guided" and ln["in_code"] for ln in att["lines"])
        assert att["compute"]["sandbox_runs"] > 0 and att["compute"]["wall_s"] > 0
    # without accept_verified the agent writes the last lines itself: all guided, the fence not in the code
    own = y["attempts"][1]
    assert own["code_source"] == "guided" and own["code"] == draft["code"] and own["final_flipped_tokens"] == 1
    assert [ln["source"] for ln in own["lines"]] == ["skipped", "guided", "guided", "guided"]
    assert [ln["in_code"] for ln in own["lines"]] == [True, True, True, False]


def test_a_store_older_than_the_attribution_columns_still_opens(tiny_store, tmp_path):
    """Read-only opens do not add the columns added to the schema since a store was written: they
    read NULL (lines then say only whether they had a signal)."""
    import duckdb

    path, run_x, _ = tiny_store
    old = tmp_path / "old.duckdb"
    shutil.copy(path, old)
    con = duckdb.connect(str(old))
    for table, col in (("attempts", "code_source"), ("attempts", "wall_s"), ("lines", "skip_rule"), ("lines", "wall_s"),
                       ("candidates", "carried_from")):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
    con.close()
    res = write_explorer(old, run_x, out=tmp_path / "e")
    assert meta_of(res["path"].read_text())["problems"][0]["final_source"] is None
    att = load_blob(tmp_path / "e" / "data" / "0.js")["runs"][0]["attempts"][1]
    assert att["code_source"] is None and att["compute"]["wall_s"] is None
    assert [ln["source"] for ln in att["lines"]] == ["unguided", "guided", "draft"]
    assert all(c["carried_from"] is None for ln in att["lines"] for c in ln["candidates"])


def results_export_page(tiny_store, tmp_path: Path) -> dict:
    """The explorer of the accept_verified run read from its results export (``egcfg results
    export``: attempts, no lines), written to tmp_path / "e"."""
    path, run_x, _ = tiny_store
    con = open_stores([path])
    try:
        export_results(con, tmp_path / "results")
    finally:
        con.close()
    return write_explorer([tmp_path / "results"], run_x, out=tmp_path / "e")


def test_a_results_export_says_lines_are_not_in_it(tiny_store, tmp_path):
    res = results_export_page(tiny_store, tmp_path)
    meta = meta_of(res["path"].read_text())
    assert not meta["runs"][0]["has_lines"] and meta["problems"][0]["final_source"] == "draft"
    (run,) = load_blob(tmp_path / "e" / "data" / "0.js")["runs"]
    assert all(a["lines_missing"] and a["lines"] == [] and a["code"] for a in run["attempts"])
    assert run["attempts"][1]["final_flipped_tokens"] == 1  # the attempt's columns are there


def _browser():
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'egcfg[browser]')")
    return sync_playwright


def _page(pw, url: str, errors: list):
    b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    page = b.new_page(viewport={"width": 1440, "height": 900})  # a laptop screen
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return b, page


@pytest.mark.browser
def test_click_through_in_chromium(tiny_store, tmp_path):
    """Open the page from disk, pick a problem, its guided attempt, a line: the badges, the token
    marks, the drafts and the signal are on the page; a screenshot is saved."""
    sync_playwright = _browser()
    path, run_x, run_y = tiny_store
    res = write_explorer(path, run_x, vs=run_y, out=tmp_path / "e")
    errors: list[str] = []
    with sync_playwright() as pw:
        b, page = _page(pw, res["path"].resolve().as_uri(), errors)
        # the run's overview: agents as a table, the config as key / value rows (nested sections)
        assert page.locator("table.agents tbody tr").count() == 2 * 2  # two agents, both runs
        assert "decode" in page.locator("table.kv tr.section th").all_text_contents()
        assert page.locator("table.kv th", has_text="accept_verified").count() == 2
        # filters: winner source, hidden verdict, text search
        assert page.locator("#count").text_content() == "2 of 2 problems"
        page.select_option("#f-source", "draft")
        assert page.locator("li.prob").evaluate_all("e => e.map(x => x.dataset.task)") == ["toy/add"]
        page.select_option("#f-source", "any")
        page.select_option("#f-hidden", "failed")
        assert page.locator("li.prob").evaluate_all("e => e.map(x => x.dataset.task)") == ["toy/add-4"]
        page.select_option("#f-hidden", "all")
        page.fill("#q", "ADD-4")
        assert page.locator("#count").text_content() == "1 of 2 problems"
        page.fill("#q", "")
        page.click("li.prob[data-task='toy/add']")
        page.wait_for_selector(".code .ln")  # the problem's data/<n>.js is loaded by a <script>
        rows = page.locator("tr.attempt")
        assert rows.count() == 2 and "sel" in rows.nth(1).get_attribute("class")  # the final attempt
        assert rows.nth(1).locator(".badge").text_content() == "draft"
        assert rows.nth(1).locator("td").nth(8).text_content() == "L2 #0"
        badges = page.locator(".code .ln .bcell").all_text_contents()
        assert badges == ["skip: header", "guided ·1⚑", "draft #0"]
        assert page.locator(".code .ln[data-line='1'] .tok.g").count() == len(page.locator(".code .ln[data-line='1'] .tok").all())
        assert page.locator(".code .tok.flip").all_text_contents() == ["+"]
        page.hover(".code .tok.flip")
        tip = page.locator("#tip")
        assert tip.is_visible() and "argmax flipped" in tip.text_content() and "logp unguided" in tip.text_content()
        page.click(".code .ln[data-line='2']")
        assert page.locator(".cand").count() == 3 and page.locator(".cand.accepted").get_attribute("data-cand") == "0"
        assert page.locator(".cand.accepted pre.trace").count() == 2
        assert "passed" in page.locator(".cand.accepted pre.trace").first.text_content()
        assert "Code so far" in page.locator("pre.signal").text_content()
        page.click(".code .ln[data-line='1'] .tok.flip")  # pins the token's top-k lists under the line
        assert page.locator(".linehead h3").text_content().strip() == "Line 1"
        assert page.locator(".tokinfo table.topk th").all_text_contents() == ["top-k", "unguided", "guided", "combined"]
        page.mouse.move(2, 890)
        assert not tip.is_visible()
        page.screenshot(path=str(tmp_path / "explorer.png"))
        if os.environ.get("EGCFG_EXPLORER_PNG"):  # the docs' picture: a taller window, the whole problem
            page.set_viewport_size({"width": 1440, "height": 1280})
            page.screenshot(path=os.environ["EGCFG_EXPLORER_PNG"])
        # the other run of the comparison, and the link that reopens this view
        page.click("tr.runrow[data-run='1']")
        assert page.locator(".run").get_attribute("data-run") == "1"
        assert page.locator(".code .ln .bcell").all_text_contents() == ["skip: header", "guided ·1⚑", "guided", "guided"]
        assert "task=toy%2Fadd" in page.url and "run=1" in page.url
        page.goto(res["path"].resolve().as_uri() + "#task=toy%2Fadd&agent=1&line=2")
        page.reload()  # (a new fragment alone does not reload the page)
        page.wait_for_selector(".linehead")
        assert page.locator(".linehead h3").text_content().strip() == "Line 2"
        assert page.locator(".cand.accepted").count() == 1 and page.locator(".run").get_attribute("data-run") == "0"
        b.close()
    assert errors == []


@pytest.mark.browser
def test_hostile_text_stays_text_in_chromium(db, tmp_path):
    sync_playwright = _browser()
    res = write_explorer(db, RUN_H, out=tmp_path / "e")
    errors: list[str] = []
    with sync_playwright() as pw:
        b, page = _page(pw, res["path"].resolve().as_uri(), errors)
        page.click("li.prob[data-task='Mbpp/7']")
        page.click("tr.attempt[data-agent='1']")
        assert page.locator(".code .ln[data-line='2'] pre.text").text_content() == "    # " + HOSTILE
        page.click(".code .ln[data-line='1']")
        traces = page.locator(".run[data-run='0'] pre.trace").all_text_contents()
        assert traces == ["trace A " + HOSTILE, "trace B"]
        assert page.locator(".code .tok.flip").all_text_contents() == ["    return", "<b>"]
        assert page.locator("pre.signal").text_content() == "# signal " + HOSTILE
        assert page.locator("img").count() == 0
        assert page.evaluate("[...document.scripts].map(s => s.src.split('/').pop())") == ["", "", "0.js"]
        assert page.evaluate("window.PWNED === undefined")
        b.close()
    assert errors == []


@pytest.mark.browser
def test_an_export_without_lines_says_so_in_chromium(tiny_store, tmp_path):
    sync_playwright = _browser()
    res = results_export_page(tiny_store, tmp_path)
    errors: list[str] = []
    with sync_playwright() as pw:
        b, page = _page(pw, res["path"].resolve().as_uri(), errors)
        page.click("li.prob[data-task='toy/add']")
        page.wait_for_selector(".code .ln")
        assert "not in this export" in page.locator(".notice").text_content()
        assert page.locator(".code .ln pre.text").all_text_contents() == RIGHT.split("```")[0].rstrip("\n").split("\n")
        b.close()
    assert errors == []


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
