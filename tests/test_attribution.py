"""Where an attempt's code came from (egcfg_core/attribution.py): the rules on hand-made records,
then real attempts of the tiny model steered to write a known function (tests.tiny.steer) with
scripted drafts, stored and read back; and the back-fill of committed results exports."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from egcfg_core.attribution import Attribution, attribute, attribute_without_lines
from egcfg_core.decoding import DecodeSettings, Head
from egcfg_core.executable import extract_executable
from egcfg_core.records import AgentConfig, AttemptRecord, CandidateRecord, LineRecord, SolveRecord, TokenDecision
from tests.test_compute import CODE, GREEDY, GUIDED, steered  # noqa: F401 (steered: a fixture)
from tests.test_storage import _doc_queries
from tests.test_verified import ADD, Scripted

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- the rules
def line(k: int, texts: list[str], signal: str = "", flipped: tuple[int, ...] = ()) -> LineRecord:
    toks = [TokenDecision(position=0, token_id=0, token_text=t, gamma=1.0, logp_uncond=0.0, logp_guided=0.0,
                          logp_combined=0.0, topk_uncond=[], topk_guided=[], topk_combined=[],
                          argmax_changed=i in flipped) for i, t in enumerate(texts)]
    return LineRecord(line_index=k, prefix="", signal_text=signal, candidates=[], chosen_text="".join(texts),
                      tokens=toks, timings={})


def record(agent: AgentConfig, lines: list[LineRecord], code: str, stop: str = "fence", verified: int | None = None):
    return AttemptRecord(agent_index=0, agent=agent, code=code, stop_reason=stop, lines=lines, visible=[],
                         passed_visible=False, timings={}, verified_line=verified)


HEADER = ["def ", "f(x", "):\n"]
BODY = ["    ret", "urn ", "x\n"]
FN = "def f(x):\n    return x\n"


def test_a_line_loops_code_is_guided_when_a_signal_chose_a_token_in_it():
    guided = [line(0, HEADER), line(1, BODY, "sig", flipped=(1,)), line(2, ["``", "`"], "sig", flipped=(0,))]
    # the fence line's tokens are not in the code: neither its guided tokens nor its flip count
    assert attribute(record(GUIDED, guided, FN)) == Attribution("guided", 6, 1, 3, 1)
    # EOS (its token text after the code) and a dropped top-level line are not in the code either
    eos = [line(0, HEADER), line(1, BODY, "sig"), line(2, ["<|im_end|>"], "sig", flipped=(0,))]
    assert attribute(record(GUIDED, eos, FN, "eos")) == Attribution("guided", 6, 1, 3, 0)
    dedent = [line(0, HEADER, "sig"), line(1, BODY), line(2, ["print", "(f(1))\n"], "sig", flipped=(0,))]
    assert attribute(record(GUIDED, dedent, FN, "dedent")) == Attribution("guided", 6, 1, 3, 0)
    # every line spared guidance: the code is p_sol's argmax
    spared = [line(0, HEADER), line(1, BODY), line(2, ["```"])]
    assert attribute(record(GUIDED, spared, FN)) == Attribution("unguided", 6, 0, 0, 0)
    # a signal on a γ = 0 agent's line guides nothing; a sampler's draws are not flips by guidance
    assert attribute(record(GREEDY, guided, FN)) == Attribution("greedy", 6, 0, 0, 0)
    assert attribute(record(AgentConfig(t=0.8, gamma=0.0, s=0, d=0), spared, FN)).code_source == "sampler"
    assert attribute(record(GUIDED, spared[:1], "", "cancelled")) == Attribution("none", 0, 0, 0, 0)


def test_a_draft_holds_the_lines_decoded_before_it():
    lines = [line(0, HEADER), line(1, BODY, "sig", flipped=(2,)), line(2, [], "sig")]
    code = FN + "    return x + 1\n"  # not run: the draft's own text follows the decoded lines
    assert attribute(record(GUIDED, lines, code, "verified", 2)) == Attribution("draft", 6, 1, 3, 1)
    assert attribute(record(GUIDED, [line(0, [], "sig")], FN, "verified", 0)) == Attribution("draft", 0, 0, 0, 0)


def test_without_lines_only_what_the_row_tells():
    a = attribute_without_lines
    assert a(0.0, 0.0, "fence", FN, None, n_tokens=9, header_unguided=False) == Attribution("greedy", None, 0, 0, 0)
    assert a(0.0, 0.7, "eos", FN, None, n_tokens=9, header_unguided=False) == Attribution("sampler", None, 0, 0, 0)
    assert a(1.0, 0.7, "fence", FN, None, n_tokens=9, header_unguided=True) == Attribution("loop")
    assert a(1.0, 0.7, "cancelled", " \n", None, n_tokens=0, header_unguided=True) == Attribution("none", 0, 0, 0, 0)
    # a draft at line 0 holds no decoded token; at line 1 only the header's, unguided under skip rule 'header'
    assert a(1.0, 0.7, "verified", FN, 0, n_tokens=0, header_unguided=False) == Attribution("draft", 0, 0, 0, 0)
    assert a(1.0, 0.7, "verified", FN, 1, n_tokens=9, header_unguided=True) == Attribution("draft", 9, 0, 0, 0)
    assert a(1.0, 0.7, "verified", FN, 1, n_tokens=9, header_unguided=False) == Attribution("draft", 9)
    assert a(1.0, 0.7, "verified", FN, 3, n_tokens=30, header_unguided=True) == Attribution("draft", 30)
    # a copied greedy attempt (its lines stay in the run it came from)
    assert attribute(record(GREEDY, [], FN)) == Attribution("greedy", None, 0, 0, 0)


# ----------------------------------------------------------------------------- real attempts
class Drafts(Scripted):
    """Scripted drafts per line (line -> raw texts); the written lines are the steered model's."""

    by_line: dict[int, list[str]] = {}

    def explore(self, sol, prefix, line_index):
        self.explored.append(line_index)
        return [CandidateRecord(index=j, raw_text=raw, executable=extract_executable(prefix + raw))
                for j, raw in enumerate(self.by_line.get(line_index, ["    c = a * b\n", "    c = a // b\n"]))]


def attempt(steered, by_line, index, agent=GUIDED, **settings):
    lm, parts, pool = steered
    Drafts.by_line = by_line
    st = DecodeSettings(max_new_tokens=80, max_lines=6, exec_workers=1, **{"skip_certain": "header", **settings})
    att = Drafts(lm, ADD, Head.build(lm, parts), agent, index, st, pool=pool)
    att.explored = []
    return att.run()


def test_real_attempts_are_attributed_and_stored(steered, tmp_path):
    """A draft accepted at line 2 after one guided line, a guided attempt to the fence, one whose
    lines all agreed (no signal), and greedy: each row says where its code came from, and the
    guided/flipped counts equal those of the stored token decisions that fall in the code."""
    from storage import Store

    draft = attempt(steered, {2: ["    return a + b\n", "    return a\n"]}, 1)
    assert (draft.stop_reason, draft.verified_line, draft.verified_candidate) == ("verified", 2, 0)
    assert draft.passed_visible and draft.code == "def add(a, b):\n    c = a - b\n    return a + b\n"
    to_end = attempt(steered, {}, 2)
    assert to_end.code == CODE.split("```")[0] and to_end.stop_reason == "fence"
    agreed = attempt(steered, {k: [row] * 2 for k, row in enumerate(CODE.splitlines(keepends=True))}, 3,
                     skip_certain="header,agree")
    assert agreed.code == to_end.code and not any(ln.signal_text for ln in agreed.lines)
    flipping = attempt(steered, {}, 4, plausibility_alpha=0.0)  # p_dyn's steer is off by the signal's length
    greedy = attempt(steered, {}, 0, GREEDY)
    solve = SolveRecord(ADD, [greedy, draft, to_end, agreed, flipping], 1, 1, draft.code, wall_s=1.0)
    with Store(tmp_path / "a.duckdb") as store:
        rid = store.ensure_run("r1", {"x": 1}, "tiny", "v")
        store.write_problem(rid, solve, None, wall_s=1.0)
        rows = {r["agent_index"]: r for r in store.query("SELECT * FROM attempts").to_pylist()}
        # the same counts from the stored token decisions (docs/QUERIES.md 18)
        doc = next(q for q in _doc_queries() if "guided_from_tokens" in q)
        recount = {r["agent_index"]: r for r in store.query(doc).to_pylist()}
        final = store.query("SELECT a.code_source, a.verified_line FROM solutions s "
                            "JOIN attempts a USING (run_id, task_id, agent_index)").to_pylist()
    header, line1 = (len(ln.tokens) for ln in draft.lines[:2])
    assert (rows[1]["code_source"], rows[1]["verified_line"], rows[1]["final_tokens"], rows[1]["final_guided_lines"],
            rows[1]["final_guided_tokens"], rows[1]["final_flipped_tokens"]) == ("draft", 2, header + line1, 1, line1, 0)
    fence = len(to_end.lines[-1].tokens)
    assert (rows[2]["code_source"], rows[2]["final_tokens"], rows[2]["final_guided_lines"]) == \
        ("guided", sum(len(ln.tokens) for ln in to_end.lines) - fence, 2)
    assert rows[2]["final_guided_tokens"] == sum(len(ln.tokens) for ln in to_end.lines[1:-1])
    assert (rows[3]["code_source"], rows[3]["final_guided_tokens"]) == ("unguided", 0)
    assert (rows[0]["code_source"], rows[0]["final_guided_tokens"], rows[0]["final_flipped_tokens"]) == ("greedy", 0, 0)
    assert rows[4]["code_source"] in ("guided", "none")
    flips = sum(d.argmax_changed for ln in flipping.lines if ln.signal_text for d in ln.tokens)
    assert flips and rows[4]["final_flipped_tokens"] is not None
    for k, r in rows.items():
        assert (r["final_guided_tokens"], r["final_flipped_tokens"]) == \
            (recount[k]["guided_from_tokens"], recount[k]["flipped_from_tokens"]), k
    assert final == [{"code_source": "draft", "verified_line": 2}]


def test_a_copied_greedy_attempt_keeps_its_attribution_and_cost(steered, tmp_path):
    """[run] reuse_greedy copies a stored greedy attempt into another run: its row there has the
    source's final-code counts (only its lines tell them) and what it cost where it was decoded."""
    from egcfg_core.compute import ATTEMPT_FIELDS
    from storage import Store
    from storage.rows import attempt_from_row

    greedy = attempt(steered, {}, 0, GREEDY)
    with Store(tmp_path / "g.duckdb") as store:
        store.ensure_run("src", {"x": 1}, "tiny", "v")
        store.write_problem("src", SolveRecord(ADD, [greedy], None, 0, greedy.code, 1.0), None, wall_s=1.0)
        source, row = store.greedy_attempts(["src"], [ADD.task_id])[ADD.task_id]
        copied = attempt_from_row(row, GREEDY, source)
        store.ensure_run("dst", {"x": 2}, "tiny", "v")
        store.write_problem("dst", SolveRecord(ADD, [copied], None, 0, copied.code, 1.0), None, wall_s=1.0)
        src, dst = (store.query(f"SELECT * EXCLUDE (run_id, reused_from) FROM attempts WHERE run_id = '{r}'").to_pylist()[0]
                    for r in ("src", "dst"))
    assert src == dst and dst["code_source"] == "greedy" and dst["final_tokens"] > 0
    assert {k: dst[k] for k in ATTEMPT_FIELDS} == pytest.approx(greedy.compute)


# ----------------------------------------------------------------------------- back-fill
def test_backfill_of_a_results_export_fills_what_rows_tell_and_is_rerunnable(tmp_path, steered):
    """scripts/backfill_attribution.py on a copy of committed results: code sources from the rows,
    signal counts only where certain; rows measured from lines are kept; a second run changes
    nothing; open_parquet reads the columns (and NULL where an export predates them)."""
    import importlib.util

    from storage import Store, open_parquet
    from storage.export import export_results

    spec = importlib.util.spec_from_file_location("backfill", ROOT / "scripts" / "backfill_attribution.py")
    backfill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backfill)
    folder = tmp_path / "quick"
    shutil.copytree(ROOT / "results" / "quick-humaneval", folder)
    con = open_parquet(folder)
    before = con.execute("SELECT run_id, task_id, agent_index, code, stop_reason FROM attempts ORDER BY ALL").fetchall()
    part = folder / "attempts" / "run_id=68d14e6f6cdb"
    con.execute("COPY (SELECT * EXCLUDE (run_id, code_source, final_tokens, final_guided_lines, final_guided_tokens, "
                "final_flipped_tokens) FROM attempts WHERE run_id = '68d14e6f6cdb' ORDER BY task_id, agent_index) "
                f"TO '{tmp_path / 'old.parquet'}' (FORMAT PARQUET)")  # as before the columns
    con.close()
    shutil.move(tmp_path / "old.parquet", part / "data_0.parquet")
    assert open_parquet(folder).execute("SELECT count(code_source) FROM attempts WHERE run_id = '68d14e6f6cdb'"
                                        ).fetchall() == [(0,)]
    filled = backfill.backfill(folder)
    assert sum(filled["68d14e6f6cdb"].values()) == 4
    con = open_parquet(folder)
    got = con.execute("SELECT agent_name, code_source, final_tokens, final_guided_tokens FROM attempts "
                      "WHERE run_id = '68d14e6f6cdb' ORDER BY task_id, agent_index").fetchall()
    assert [g[1:] for g in got if g[0] == "greedy"] == [("greedy", None, 0)] * 3
    assert [g[1:] for g in got if g[0] != "greedy"] == [("loop", None, None)]
    assert con.execute("SELECT run_id, task_id, agent_index, code, stop_reason FROM attempts ORDER BY ALL"
                       ).fetchall() == before
    assert backfill.backfill(folder) == {run: {} for run in filled}  # nothing left to fill
    # a row written with its lines (the writer measured it) is not overwritten by the coarser guess
    draft = attempt(steered, {2: ["    return a + b\n"]}, 1)
    with Store(tmp_path / "s.duckdb") as store:
        store.ensure_run("68d14e6f6cdb", {"x": 1}, "tiny", "v")
        store.write_problem("68d14e6f6cdb", SolveRecord(ADD, [replace(draft, agent_index=0)], 0, 0, draft.code, 1.0),
                            None, wall_s=1.0)
        with store.connection() as c:
            export_results(c, folder)
    backfill.backfill(folder)
    assert open_parquet(folder).execute(
        "SELECT code_source, final_guided_tokens FROM attempts WHERE task_id = 'toy/add'").fetchall() == \
        [("draft", len(draft.lines[1].tokens))]
