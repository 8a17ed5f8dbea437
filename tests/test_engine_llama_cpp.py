"""The llama.cpp engine on the offline default GGUF: cached decoding equals its own naive
re-encode, forks and releases do not leak sequences, seeded sampling reproduces, one real EG-CFG
solve.  Skipped with the reason when llama-cpp-python or the GGUF is absent."""
from dataclasses import replace

import pytest
import torch

pytestmark = [pytest.mark.real_model]

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'egcfg[llama-cpp]'")

from egcfg_core.decoding import Attempt, DecodeSettings, Head, finished_function  # noqa: E402
from egcfg_core.config import LEGACY_DECODE
from egcfg_core.guidance import PlausibilityMask, cfg_logprobs  # noqa: E402
from egcfg_core.prompts import PromptParts  # noqa: E402
from egcfg_core.records import AgentConfig, Problem, TestCase  # noqa: E402


@pytest.fixture(scope="module")
def lm():
    from egcfg_core.engines import EngineError, load_engine
    from egcfg_core.engines.probe import NativeCrash

    try:  # the engine probes llama.cpp in a child first: a native crash fails these tests, not the session
        engine, _ = load_engine("llama.cpp", "default", {"n_threads": 1, "n_seq_max": 8, "n_ctx": 2048})
    except NativeCrash as e:
        pytest.fail(str(e), pytrace=False)
    except EngineError as e:
        pytest.skip(f"the default GGUF is not available: {e}")
    return engine


PROBLEM = Problem(task_id="toy/sq", benchmark="toy", description="", function_name="sum_sq",
                  visible_tests=(TestCase(source="assert sum_sq([1, 2]) == 5"),), hidden_tests=(), kind="function")
# a short prompt keeps the naive decoder (two full prefills per token) fast
PARTS = PromptParts(
    head="<|im_start|>user\nWrite a Python function sum_sq(xs) that returns the sum of the squares of xs, "
         "using a for loop and an accumulator variable.",
    tail="<|im_end|>\n<|im_start|>assistant\n```python\n")
SIGNALS = ["\nFeedback: sum_sq([1, 2]) returned 3, expected 5.", "", "\nHint: square each x."]


class FixedSignals(Attempt):
    def build_signal(self, sol, prefix, line_index, timings):
        return [], SIGNALS[line_index % len(SIGNALS)]


def fresh_logits(lm, ids):
    """The naive step: the whole prompt decoded from scratch in a fresh sequence."""
    stream = lm.start(ids)
    try:
        return stream.logits
    finally:
        lm.release(stream)


def naive_decode(lm, gamma, mask, n_tokens):
    head, tail = lm.encode(PARTS.head), lm.encode(PARTS.tail)
    code, line = [], 0
    while len(code) < n_tokens:
        signal = SIGNALS[line % len(SIGNALS)]
        lu_logits = fresh_logits(lm, head + tail + code)
        lu = torch.log_softmax(lu_logits, dim=-1)
        if signal:
            combined = cfg_logprobs(lu_logits, fresh_logits(lm, head + lm.encode(signal) + tail + code), gamma)
            combined = mask(lu, combined) if mask is not None else combined
        else:
            combined = lu
        tok = int(combined.argmax())
        if tok in lm.eos_ids:
            break
        code.append(tok)
        if finished_function(lm.decode(code), PROBLEM):
            break
        if "\n" in lm.token_text(tok):
            line += 1
    return code


# γ = 0.5 runs the same code path as 1.0 (tests/test_decoding.py covers all four on the tiny model);
# each γ here costs ~20 s of naive re-encoding on the real model
@pytest.mark.parametrize("gamma", [0.0, 1.0, 3.0])
def test_cached_decoder_matches_naive_reencode(lm, gamma):
    n = 20
    settings = DecodeSettings(max_new_tokens=n, max_lines=100, plausibility_alpha=0.05 if gamma == 3.0 else 0.0,
                              **LEGACY_DECODE)  # every line guided, v1 signal: as the naive decoder
    agent = AgentConfig(t=0.7 if gamma else 0.0, gamma=gamma, s=2, d=1)
    before = lm.sequences_in_use()
    head = Head.build(lm, PARTS)
    rec = FixedSignals(lm, replace(PROBLEM, visible_tests=()), head, agent, 0, settings).run()
    cached = [d.token_id for line in rec.lines for d in line.tokens if d.token_id not in lm.eos_ids]
    mask = PlausibilityMask(settings.plausibility_alpha) if gamma else None
    assert len(rec.lines) >= 3, "the test needs several lines to exercise the per-line p_dyn rebuild"
    assert cached == naive_decode(lm, gamma, mask, n)
    if gamma:  # the signal moved the distribution the tokens were chosen from
        assert any(abs(d.logp_combined - d.logp_uncond) > 1e-3 for line in rec.lines if line.signal_text
                   for d in line.tokens)
    lm.release(head.stream)
    assert lm.sequences_in_use() == before  # p_sol, every p_dyn and the head are all freed


def test_forks_and_releases_do_not_leak_sequences(lm):
    from egcfg_core.engines import EngineError

    base = lm.sequences_in_use()
    head = lm.start(lm.encode("def f(x):\n"))
    for _ in range(3 * lm.n_seq_max):  # more forks than sequences: each must be returned
        a = lm.fork(head)
        lm.step(a, lm.encode("   ")[0])
        lm.release(a)
        lm.fork(head)  # dropped unreleased: the finalizer returns its id
    assert lm.sequences_in_use() == base + 1
    held = [lm.fork(head) for _ in range(lm.n_seq_max - base - 1)]
    with pytest.raises(EngineError, match="n_seq_max"):
        lm.fork(head)
    for s in held:
        lm.release(s)
    lm.release(head)
    lm.release(head)  # a second release is a no-op
    assert lm.sequences_in_use() == base


class FailsMidLine(FixedSignals):
    """A hook that raises while p_sol and p_dyn are both held (the second token of a guided line)."""

    def choose(self, logits_u, logits_c, position, guided):
        if guided and position > 0:
            raise RuntimeError("hook failed")
        return super().choose(logits_u, logits_c, position, guided)


def test_an_attempt_that_fails_gives_its_sequences_back(lm):
    """An exception inside the line loop releases p_sol and p_dyn before it propagates: otherwise
    the context's fixed sequences leak and every later attempt fails with 'all ... in use'."""
    before = lm.sequences_in_use()
    head = Head.build(lm, PARTS)
    settings = DecodeSettings(max_new_tokens=20, max_lines=100, **LEGACY_DECODE)
    kept = []  # the errors stay alive, their tracebacks too (as a task runner's failed state keeps them)
    for _ in range(2 * lm.n_seq_max):  # more failures than sequences
        with pytest.raises(RuntimeError, match="hook failed") as info:
            FailsMidLine(lm, replace(PROBLEM, visible_tests=()), head, AgentConfig(t=0.7, gamma=1.0, s=2, d=1), 0,
                         settings).run()
        kept.append(info.value)
        assert lm.sequences_in_use() == before + 1  # the head alone
    lm.release(head.stream)
    assert lm.sequences_in_use() == before


def test_pair_step_equals_stepping_alone_and_unpair_returns_p_sol(lm):
    head = lm.start(lm.encode("def add(a, b):\n"))
    sol, dyn, alone = lm.fork(head), lm.fork(head), lm.fork(head)
    lm.extend(dyn, lm.encode("    # add them\n"))  # different lengths
    lm.batch_pair = True  # one llama_decode of two rows (the option); bit-equal to stepping alone
    try:
        pair = lm.pair(sol, dyn)
        tok = lm.encode("    return")[0]
        u, c = lm.pair_step(pair, tok)
    finally:
        lm.batch_pair = False
    assert torch.equal(u, lm.step(alone, tok))  # each sequence has its own KV buffer: bit-equal
    assert u.shape == (lm.n_vocab,) and not torch.equal(u, c)
    assert lm.unpair(pair) is sol and sol.ids == alone.ids
    for s in (sol, alone, head):
        lm.release(s)


def test_seeded_sample_reproduces_and_stops_each_row_at_its_line(lm):
    s = lm.start(lm.encode(PARTS.head + PARTS.tail))
    kw = dict(n=3, temperature=0.8, top_p=0.95, lines=1, max_new_tokens=24)
    rows = lm.sample(s, seed=11, **kw)
    assert rows == lm.sample(s, seed=11, **kw) and len(rows) == 3
    for row in rows:
        text = lm.decode(row)
        assert text.count("\n") <= 1 and (text.endswith("\n") or len(row) == 24 or "```" in text)
    lm.release(s)


@pytest.mark.slow
def test_real_egcfg_solve_on_llama_cpp(lm, data_dir):
    from egcfg_core.agents import agent_grid, solve
    from egcfg_core.problems import load_problems, mbpp_fewshot

    problem = load_problems("mbpp", data_dir=data_dir, task_ids=["Mbpp/12"]).problems[0]
    grid = agent_grid((0.7,), (1.0,), (2,), (1,), baseline=False)
    rec = solve(problem, lm, grid, settings=DecodeSettings(max_new_tokens=60, max_lines=5, skip_certain=""),
                fewshot=mbpp_fewshot())
    attempt = rec.attempts[0]
    assert f"def {problem.function_name}" in rec.solution
    guided = [ln for ln in attempt.lines if ln.signal_text]
    assert guided and any(e.trace_text for ln in guided for c in ln.candidates for e in c.executions)


SWEEP_TOML = """
[model]
spec = "default"
engine = "llama.cpp"
[engine]
n_threads = 1
n_seq_max = 8
n_ctx = 2048
[data]
benchmark = "mbpp"
[grid]
t = [0.7]
gamma = [1.0]
s = [2]
d = [1]
baseline = false
[decode]
max_new_tokens = 16
"""


@pytest.mark.slow
def test_sweep_on_llama_cpp_resumes_to_the_uninterrupted_result(lm, prefect_harness, data_dir, tmp_path):
    """`egcfg sweep --engine llama.cpp` on 2 problems; then a store where one problem's rows are
    missing (what a sweep killed before committing it leaves: the writer commits a problem at
    once) is resumed: only that problem is solved again, to the same tokens and solutions."""
    import duckdb
    from typer.testing import CliRunner

    from egcfg_cli.main import app

    cfg = tmp_path / "ll.toml"
    cfg.write_text(SWEEP_TOML)
    db = tmp_path / "ll.duckdb"

    def sweep():
        r = CliRunner().invoke(app, ["sweep", "--config", str(cfg), "--engine", "llama.cpp", "--tasks", "11-12",
                                     "--db", str(db), "--data-dir", str(data_dir)])
        assert r.exit_code == 0, r.output

    def rows(sql, write=False):
        con = duckdb.connect(str(db), read_only=not write)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    queries = ("SELECT task_id, agent_index, position, token_id FROM token_decisions ORDER BY ALL",
               "SELECT task_id, agent_index, line_index, candidate_index, raw_text FROM candidates ORDER BY ALL",
               "SELECT task_id, code FROM solutions ORDER BY ALL")
    sweep()
    whole = [rows(q) for q in queries]
    assert all(whole) and {r[0] for r in whole[0]} == {"Mbpp/11", "Mbpp/12"}
    kept = rows("SELECT task_id, done_at FROM problems WHERE task_id = 'Mbpp/12'")
    tables = [t for (t,) in rows("SELECT table_name FROM information_schema.columns WHERE column_name = 'task_id'")]
    for t in tables:
        rows(f"DELETE FROM {t} WHERE task_id = 'Mbpp/11'", write=True)
    sweep()
    assert rows("SELECT task_id, done_at FROM problems WHERE task_id = 'Mbpp/12'") == kept  # not redone
    assert [rows(q) for q in queries] == whole
