"""Issue 10: verified candidates end the attempt (accept_verified), lines that need no exploration
are decoded unguided (skip_certain), and both are recorded settings (run ids at the defaults
unchanged).  Candidates are scripted; their execution is real (the sandbox)."""
from dataclasses import replace

import pytest
import torch

from egcfg_core.config import ConfigError, load_config
from egcfg_core.decoding import Attempt, DecodeSettings, Head, verified_candidate, whole_function
from egcfg_core.executable import extract_executable
from egcfg_core.prompts import build_prompt
from egcfg_core.records import AgentConfig, CandidateRecord, ExecutionRecord, Problem, TestCase
from egcfg_core.engines.transformers import TransformersEngine
from tests.test_decoding import NewlineBias
from tests.tiny import tiny_model

ADD = Problem(task_id="toy/add", benchmark="toy", description="Write a function to add two numbers.",
              function_name="add",
              visible_tests=(TestCase(source="assert add(1, 2) == 3", call="add(1, 2)"),
                             TestCase(source="assert add(3, 4) == 7", call="add(3, 4)")),
              hidden_tests=())


def test_whole_function_tells_finished_functions_from_stubs():
    w = lambda prefix, raw: whole_function(prefix, raw, ADD)  # noqa: E731
    body = "def add(a, b):\n"
    assert w(body, "    return a + b\n") == "def add(a, b):\n    return a + b\n"  # a top-level return
    assert w(body, "    return a + b\n```") == "def add(a, b):\n    return a + b\n"  # the fence ends it
    assert w(body, "    c = a + b\n```") == "def add(a, b):\n    c = a + b\n"  # ended, no return needed
    assert w(body, "    c = a + b\nprint(add(1, 2))\n") == "def add(a, b):\n    c = a + b\n"  # dedent
    assert w(body, "    c = a + b\n    return c\n") is not None
    # not finished: more lines may follow
    assert w(body, "    c = a + b\n    d = c\n") is None
    assert w(body, "    if a:\n        return a + b\n") is None  # a return inside a block
    # a stub that needed `pass` to run, or a tail cut by the token cap, is not a whole function
    assert extract_executable(body + "    for i in range(a):\n") is not None
    assert w(body, "    for i in range(a):\n") is None
    assert w(body, "    return a +") is None and w(body, "    return a") is None
    assert w("def other(a, b):\n", "    return a + b\n") is None  # not the target function
    assert whole_function(body, "    return a + b\n", replace(ADD, kind="stdio", function_name="")) is None


def _executed(i, raw, statuses, prefix="def add(a, b):\n"):
    c = CandidateRecord(index=i, raw_text=raw, executable=extract_executable(prefix + raw))
    c.executions = [ExecutionRecord(i, k, s, "", "", {}, 0.0) for k, s in enumerate(statuses)]
    return c


def test_verified_candidate_is_the_first_whole_function_passing_everything():
    prefix = "def add(a, b):\n"
    cands = [_executed(0, "    return a + b + 0 * a\n", ["passed", "failed"]),
             _executed(1, "    c = a + b\n    d = c\n", ["passed", "passed"]),  # passes, unfinished
             _executed(2, "    return b + a\n", ["passed", "passed"]),
             _executed(3, "    return a + b\n", ["passed", "passed"])]
    cand, code = verified_candidate(cands, prefix, ADD)
    assert cand.index == 2 and code == "def add(a, b):\n    return b + a\n"
    assert verified_candidate(cands[:2], prefix, ADD) is None


@pytest.fixture(scope="module")
def lm():
    model, tok = tiny_model(seed=3)
    return TransformersEngine(NewlineBias(model, tok.convert_tokens_to_ids("\n")), tok)


class Scripted(Attempt):
    """Candidates given per line (raw texts), executed for real; records which lines explored."""

    raws: list[str] = []
    explored: list[int]

    def explore(self, sol, prefix, line_index, n=None):
        self.explored.append(line_index)
        out = []
        for j, raw in enumerate(self.raws[:n]):
            out.append(CandidateRecord(index=j, raw_text=raw, executable=extract_executable(prefix + raw)))
        return out


def _attempt(lm, settings, raws):
    Scripted.raws = raws
    head = Head.build(lm, build_prompt(ADD, lm.tokenizer))
    att = Scripted(lm, ADD, head, AgentConfig(t=0.7, gamma=1.0, s=len(raws), d=2), 1, settings)
    att.explored = []
    return att


def test_accept_verified_ends_the_attempt_with_the_candidate(lm):
    raws = ["def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"]
    settings = DecodeSettings(max_new_tokens=12, max_lines=3, accept_verified=True, skip_certain="")
    rec = _attempt(lm, settings, raws).run()
    assert rec.stop_reason == "verified" and (rec.verified_line, rec.verified_candidate) == (0, 1)
    assert rec.code == "def add(a, b):\n    return a + b\n" and rec.passed_visible
    assert len(rec.lines) == 1 and rec.lines[0].tokens == [] and rec.lines[0].chosen_text == rec.code
    assert rec.lines[0].signal_text  # the signal was built (and recorded) before the check
    # off (the default): the same candidates only guide, the tiny model writes its own code
    off = _attempt(lm, replace(settings, accept_verified=False), raws).run()
    assert off.stop_reason != "verified" and off.verified_line is None and off.code != rec.code


def test_skip_rules(lm):
    raws = ["def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a * b\n"]
    settings = DecodeSettings(max_new_tokens=40, max_lines=3, skip_certain="header", accept_verified=False)
    att = _attempt(lm, settings, raws)
    rec = att.run()
    assert 0 not in att.explored and rec.lines[0].candidates == [] and rec.lines[0].signal_text == ""
    assert rec.lines[0].skip_rule == "header" and rec.lines[1].skip_rule == ""
    assert all(not d.argmax_changed for d in rec.lines[0].tokens)  # decoded unguided
    assert len(rec.lines) > 1 and 1 in att.explored and rec.lines[1].candidates  # later lines explore
    # agree: explored and executed, but no signal when every candidate starts the same
    att = _attempt(lm, replace(settings, skip_certain="agree"), raws)
    rec = att.run()
    assert rec.lines[0].candidates and rec.lines[0].candidates[0].executions and rec.lines[0].signal_text == ""
    assert rec.lines[0].skip_rule == "agree"
    assert Attempt.agree(rec.lines[0].candidates)
    assert not Attempt.agree([CandidateRecord(0, "x = 1\n", None), CandidateRecord(1, "y = 1\n", None)])
    # fence: the unguided stream's next token is EOS (or closes the code block)
    att = _attempt(lm, replace(settings, skip_certain="fence"), raws)
    logits = torch.zeros(len(lm.tokenizer))
    logits[next(iter(lm.eos_ids))] = 5.0
    assert att.certain(3, logits) == "fence"
    logits = torch.zeros(len(lm.tokenizer))
    logits[lm.encode("`")[0]] = 5.0  # the tiny tokenizer's backtick: not a whole fence
    assert att.certain(3, logits) == ""
    logits = torch.zeros(len(lm.tokenizer))
    logits[lm.encode("x")[0]] = 5.0
    assert att.certain(3, logits) == ""


class ByLine(Scripted):
    """Scripted candidates per line (a dict line -> raw texts)."""

    by_line: dict[int, list[str]] = {}

    def explore(self, sol, prefix, line_index, n=None):
        self.explored.append(line_index)
        self.asked.append(n)
        return [CandidateRecord(index=j, raw_text=raw, executable=extract_executable(prefix + raw))
                for j, raw in enumerate(self.by_line.get(line_index, ["    x = 1\n    y = 2\n"] * 2)[:n])]


def test_ahead_skips_the_line_the_previous_candidates_agreed_on(lm):
    assert Attempt.ahead([CandidateRecord(i, "    c = a\n    return c\n", None) for i in range(2)], "    c = a\n")
    assert not Attempt.ahead([CandidateRecord(i, "    c = a\n    return c\n", None) for i in range(2)], "    d = a\n")
    assert not Attempt.ahead([CandidateRecord(0, "    c = a\n    return c\n", None),
                              CandidateRecord(1, "    c = a\n    return a\n", None)], "    c = a\n")
    assert not Attempt.ahead([CandidateRecord(i, "    c = a\n    return c", None) for i in range(2)],
                             "    c = a\n")  # the second line is not complete (token cap)
    assert not Attempt.ahead([CandidateRecord(0, "    c = a\n    return c\n", None)], "    c = a\n")
    # a draft carried from an earlier line that holds this line and no more was sampled no further:
    # it neither confirms nor vetoes (a fresh draft that stops there still vetoes)
    two = [CandidateRecord(i, "    c = a\n    return c\n", None) for i in (1, 2)]
    short = CandidateRecord(0, "    c = a\n", None)
    assert not Attempt.ahead([short] + two, "    c = a\n")
    assert Attempt.ahead([replace(short, carried_from=3)] + two, "    c = a\n")
    assert not Attempt.ahead([replace(short, carried_from=3), two[0]], "    c = a\n")  # one draft left
    assert not Attempt.ahead([replace(short, carried_from=3)] + two[:1]
                             + [CandidateRecord(2, "    c = a\n    return a\n", None)], "    c = a\n")
    # the tiny model's own greedy lines, offered as agreeing candidates two lines at a time: with
    # `agree` the explored lines are decoded unguided (= greedy), and with `ahead` every line after
    # an explored one is foreseen, so it is not explored, and the code is still the greedy code
    settings = DecodeSettings(max_new_tokens=60, max_lines=6, accept_verified=False)
    greedy = _attempt(lm, settings, []).run()
    assert len(greedy.lines) >= 4
    rows = [ln.chosen_text.split("\n", 1)[0] for ln in greedy.lines]
    ByLine.by_line = {k: [rows[k] + "\n" + rows[k + 1] + "\n"] * 2 for k in range(len(rows) - 1)}
    head = Head.build(lm, build_prompt(ADD, lm.tokenizer))
    for rules, explored in (("agree", list(range(len(rows)))), ("agree,ahead", list(range(0, len(rows), 2)))):
        att = ByLine(lm, ADD, head, AgentConfig(t=0.7, gamma=1.0, s=2, d=2), 1,
                     replace(settings, skip_certain=rules))
        att.explored, att.asked = [], []
        rec = att.run()
        assert rec.code == greedy.code and att.explored == explored[: len(att.explored)]
        assert len(att.explored) == len(explored) - (len(rows) - len(rec.lines))
        if "ahead" in rules:
            assert all(rec.lines[k].candidates == [] for k in range(1, len(rec.lines), 2))


def test_skip_confident_writes_sure_lines_unguided_and_explores_the_rest(lm):
    """skip_confident = τ: a line whose greedy tokens all have unguided probability >= τ is written
    unguided without exploring; the first token below τ gives the peek up and the line is explored
    as without the setting (the fork leaves p_sol untouched: the same attempt token for token)."""
    import math

    settings = DecodeSettings(max_new_tokens=60, max_lines=6, accept_verified=False, skip_certain="")
    raws = ["    return a - b\n    x = 1\n", "    return a * b\n    y = 2\n"]
    base_att = _attempt(lm, settings, raws)
    base = base_att.run()
    # a threshold no token reaches (the tiny random model is never sure): every line explored, and
    # the attempt is the one without the setting
    att = _attempt(lm, replace(settings, skip_confident=0.999), raws)
    rec = att.run()
    assert att.explored == base_att.explored and rec.code == base.code
    assert [[d.token_id for d in ln.tokens] for ln in rec.lines] == [[d.token_id for d in ln.tokens] for ln in base.lines]
    # a threshold every token reaches: nothing explored, the code is the unguided greedy code
    greedy = _attempt(lm, replace(settings, skip_certain="header,fence,agree,ahead"), []).run()
    att = _attempt(lm, replace(settings, skip_confident=1e-9), raws)
    rec = att.run()
    assert att.explored == [] and rec.code == greedy.code
    assert all(ln.candidates == [] and ln.signal_text == "" and ln.skip_rule == "confident" for ln in rec.lines)
    assert all(not d.argmax_changed for ln in rec.lines for d in ln.tokens)
    # in between (the median of the lines' least sure token): the lines written unexplored are
    # exactly those whose every token reached τ, and some lines were explored
    floors = sorted(min(math.exp(d.logp_uncond) for d in ln.tokens) for ln in rec.lines if ln.tokens)
    tau = floors[len(floors) // 2]
    att = _attempt(lm, replace(settings, skip_confident=tau), raws)
    rec = att.run()
    assert att.explored and len(att.explored) < len(rec.lines)
    for k, ln in enumerate(rec.lines):
        if k not in att.explored:
            assert ln.candidates == [] and all(math.exp(d.logp_uncond) >= tau for d in ln.tokens)
            assert ln.skip_rule == "confident"
        else:
            assert ln.skip_rule == "" and ln.candidates
    with pytest.raises(ConfigError, match="skip_confident"):
        load_config(None, {"skip_confident": 1.0})


def test_settings_are_validated_and_leave_old_run_ids_alone():
    """At the values runs had before them (LEGACY_DECODE) the settings stay out of the run id, so
    those runs keep their ids; the defaults now differ from them, and each differs in the id."""
    from egcfg_core.config import LEGACY_DECODE

    legacy = load_config("configs/experiments/mbpp_cpu.toml", LEGACY_DECODE)
    assert not set(LEGACY_DECODE) & set(legacy.semantic()["decode"])
    default = load_config("configs/experiments/mbpp_cpu.toml")
    assert (default.decode.signal_format, default.decode.accept_verified, default.decode.skip_certain) == \
        ("v2", True, "header,fence,agree,ahead")
    changed = {k for k, v in LEGACY_DECODE.items() if getattr(default.decode, k) != v}
    assert changed == {"signal_format", "accept_verified", "skip_certain"}  # skip_confident: off by default
    assert changed == set(LEGACY_DECODE) & set(default.semantic()["decode"]) and default.run_id() != legacy.run_id()
    ids = {load_config("configs/experiments/mbpp_cpu.toml", {**LEGACY_DECODE, **o}).run_id() for o in
           ({"signal_format": "v2"}, {"accept_verified": True}, {"skip_certain": "header,agree"},
            {"skip_confident": 0.9})}
    assert len(ids) == 4 and legacy.run_id() not in ids and default.run_id() not in ids
    with pytest.raises(ConfigError, match="signal_format"):
        load_config(None, {"signal_format": "v3"})
    with pytest.raises(ConfigError, match="skip_certain.*nope"):
        load_config(None, {"skip_certain": "header,nope"})


def test_unguided_runs_ids_ignore_the_guidance_settings_and_stored_configs_read_back():
    """Greedy and sampler attempts never explore, so the issue-10 settings cannot change a run
    without guided agents: they stay out of its id (the matched ablation keeps its id whatever
    the defaults).  A stored config read back (SweepConfig.from_semantic) gives the same id, the
    later keys it lacks being the values runs had before them."""
    import json

    from egcfg_core.config import LEGACY_DECODE, SweepConfig

    ablation = load_config("configs/experiments/mbpp_dev_issue10_sampling.toml")
    for o in ({"signal_format": "v2"}, {"accept_verified": True}, {"skip_certain": "header,ahead"}):
        assert load_config("configs/experiments/mbpp_dev_issue10_sampling.toml", o).run_id() == ablation.run_id()
        guided = load_config("configs/experiments/mbpp_dev_issue10.toml", o)
        assert guided.run_id() != load_config("configs/experiments/mbpp_dev_issue10.toml", LEGACY_DECODE).run_id()
        stored = json.loads(json.dumps(guided.semantic()))
        assert SweepConfig.from_semantic(stored).run_id() == guided.run_id()
    legacy = load_config("configs/experiments/mbpp_dev_issue10.toml", LEGACY_DECODE)
    assert SweepConfig.from_semantic(json.loads(json.dumps(legacy.semantic()))).decode == legacy.decode


def test_the_store_records_which_candidate_ended_an_attempt(tmp_path):
    from storage import Store, config_hash, open_shards
    from tests.test_storage import CONFIG, make_solve

    solve = make_solve("Mbpp/1")
    solve.attempts[2] = replace(solve.attempts[2], stop_reason="verified", verified_line=1, verified_candidate=0)
    old = tmp_path / "old.duckdb"
    with Store(old) as store:  # a store of before the columns, as an old shard would be
        store.query("SELECT 1")
    import duckdb
    con = duckdb.connect(str(old))
    con.execute("ALTER TABLE attempts DROP COLUMN verified_line")
    con.execute("ALTER TABLE attempts DROP COLUMN verified_candidate")
    con.close()
    with Store(tmp_path / "new.duckdb") as store:
        run_id = store.ensure_run(config_hash(CONFIG), CONFIG, "m", "v")
        store.write_problem(run_id, solve, None, wall_s=1.0)
        rows = store.query("SELECT agent_index, stop_reason, verified_line, verified_candidate FROM attempts "
                           "ORDER BY agent_index").to_pylist()
    assert [(r["verified_line"], r["verified_candidate"]) for r in rows] == [(None, None), (None, None), (1, 0)]
    assert rows[2]["stop_reason"] == "verified"
    # shards with and without the columns read together (NULL where a shard lacks them)
    con = open_shards(str(tmp_path / "*.duckdb"))
    assert con.execute("SELECT count(*), count(verified_line) FROM attempts").fetchall() == [(3, 1)]


def test_carry_keeps_the_drafts_that_began_with_the_written_line():
    """A draft of line k whose first line is the line written there, with a complete line after
    it, is a draft of line k+1 (its rest; the same program, so its executions come along)."""
    w = "    c = a + b\n"
    cands = [_executed(0, w + "    return c\n", ["passed", "passed"]),
             _executed(1, "    c = b + a\n    return c\n", ["passed", "passed"]),  # began otherwise
             _executed(2, w + "    return c\n", []),  # the same program as draft 0
             _executed(3, w, ["failed", "failed"]),  # nothing after the written line
             _executed(4, w + "    return c", ["passed", "passed"]),  # the next line is not complete
             _executed(5, w + "    return c * 2\n", ["failed", "failed"])]
    cands[2].duplicate_of = 0
    out = Attempt.carry(cands, w, 3)
    assert [(c.index, c.raw_text, c.duplicate_of, c.carried_from) for c in out] == [
        (0, "    return c\n", None, 3), (1, "    return c\n", 0, 3), (2, "    return c * 2\n", None, 3)]
    assert out[0].executable == cands[0].executable and [e.candidate_index for e in out[2].executions] == [2, 2]
    assert [e.status for e in out[2].executions] == ["failed", "failed"] and out[1].executions == []
    # carried again, it keeps the line where it was sampled
    again = Attempt.carry(out, "    return c\n", 4)
    assert again == []  # nothing after it
    deeper = Attempt.carry([replace(out[0], raw_text="    return c\n    x = 1\n")], "    return c\n", 4)
    assert [(c.raw_text, c.carried_from) for c in deeper] == [("    x = 1\n", 3)]
    assert Attempt.carry(cands, "    c = a + b", 3) == []  # a line cut by the token cap carries nothing


def test_carry_drafts_in_the_line_loop(lm):
    """carry_drafts: the carried drafts count towards s (explore is asked for the rest) and are
    stored with the line where they were sampled; without the setting every line samples s."""
    from storage.rows import candidates_table

    settings = DecodeSettings(max_new_tokens=60, max_lines=6, accept_verified=False, skip_certain="agree")
    greedy = _attempt(lm, settings, []).run()
    rows = [ln.chosen_text.split("\n", 1)[0] for ln in greedy.lines]
    assert len(rows) >= 4
    head = Head.build(lm, build_prompt(ADD, lm.tokenizer))

    def run(by_line, **kw):
        ByLine.by_line = by_line
        att = ByLine(lm, ADD, head, AgentConfig(t=0.7, gamma=1.0, s=2, d=2), 1, replace(settings, **kw))
        att.explored, att.asked = [], []
        return att, att.run()

    # both drafts agree with the greedy lines (so `agree` writes them unguided): with carrying, the
    # line after an explored one is explored by nobody; its two drafts are the previous line's rests
    agreeing = {k: [rows[k] + "\n" + rows[k + 1] + "\n"] * 2 for k in range(len(rows) - 1)}
    plain_att, plain = run(agreeing)
    att, rec = run(agreeing, carry_drafts=True)
    assert plain.code == rec.code == greedy.code
    assert plain_att.explored == list(range(len(plain_att.explored))) and len(plain_att.explored) >= 4
    assert att.explored == list(range(0, 2 * len(att.explored), 2)) and len(att.explored) < len(plain_att.explored)
    assert set(plain_att.asked) == {None} and set(att.asked) == {None}  # s drafts each time it explores
    line0, line1 = rec.lines[0], rec.lines[1]
    assert [c.carried_from for c in line0.candidates] == [None, None]
    assert [(c.carried_from, c.raw_text) for c in line1.candidates] == [(0, rows[1] + "\n")] * 2
    table = candidates_table("r", type("S", (), {"problem": ADD, "attempts": [rec]})())
    assert table.column("carried_from").to_pylist()[:4] == [None, None, 0, 0]
    # one draft agrees, the other does not: one carried, one sampled (explore asked for n = 1)
    mixed = {k: [rows[k] + "\n" + rows[k + 1] + "\n", "    zz = 0\n" + rows[k + 1] + "\n"] for k in range(len(rows) - 1)}
    att, rec = run(mixed, carry_drafts=True)
    assert att.explored[:2] == [0, 1] and att.asked[:2] == [None, 1]
    line1 = rec.lines[1]
    assert [(c.index, c.carried_from) for c in line1.candidates] == [(0, 0), (1, None)]


def test_carry_drafts_is_in_the_run_id_only_when_on():
    import json

    from egcfg_core.config import SweepConfig

    off = load_config("configs/experiments/mbpp_dev_issue10.toml")
    on = load_config("configs/experiments/mbpp_dev_issue10.toml", {"carry_drafts": True})
    assert "carry_drafts" not in off.semantic()["decode"] and on.semantic()["decode"]["carry_drafts"] is True
    assert off.run_id() != on.run_id()
    assert SweepConfig.from_semantic(json.loads(json.dumps(on.semantic()))).run_id() == on.run_id()
    # the carried drafts' skip rule has a version (2: one that holds a single line does not veto
    # `ahead`): carry runs made under rule 1 (up to e14314cb9105) are other runs
    assert on.semantic()["carry_rule"] == 2 and "carry_rule" not in off.semantic()
    import duckdb

    from egcfg_core.config import config_hash
    (stored,) = duckdb.connect().execute(
        "SELECT config::VARCHAR FROM read_parquet('results/dev-issue29/runs/*/*.parquet', hive_partitioning = true) "
        "WHERE run_id = 'e14314cb9105'").fetchone()
    stored = json.loads(stored)
    assert config_hash(stored) == "e14314cb9105" and stored["decode"]["carry_drafts"] is True
    assert SweepConfig.from_semantic(stored).run_id() != "e14314cb9105"
    ablation = load_config("configs/experiments/mbpp_dev_issue10_sampling.toml")
    assert load_config("configs/experiments/mbpp_dev_issue10_sampling.toml", {"carry_drafts": True}).run_id() \
        == ablation.run_id()  # no guided agent: nothing to carry
