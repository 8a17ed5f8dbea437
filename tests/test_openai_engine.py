"""The OpenAI-compatible engine against a fake server on loopback (tests/fake_openai.py, the tiny
model behind it): both response shapes, token-id and text prompts, top-k CFG, candidates with and
without ``n``, retries and backoff, load-time errors and the API key's hygiene.  The real servers
are in test_openai_real_server.py."""
from __future__ import annotations

import logging

import pytest
import torch

from egcfg_core.decoding import Attempt, DecodeSettings, Head
from egcfg_core.engines import EngineError, load_engine
from egcfg_core.engines.transformers import TransformersEngine
from egcfg_core.prompts import PromptParts
from egcfg_core.records import AgentConfig, Problem, TestCase
from tests.fake_openai import FakeServer
from tests.tiny import tiny_model

TINY = "factory:tests.tiny:tiny_model"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def connect(srv: FakeServer, **opts):
    return load_engine("openai", TINY, {"base_url": srv.url, "retries": 2, "backoff_s": 0.01, **opts})


def problem() -> Problem:
    test = TestCase(source="assert add(1, 2) == 3", call="add(1, 2)")
    return Problem(task_id="Mbpp/1", benchmark="mbpp", description="Add two numbers.", function_name="add",
                   visible_tests=(test,), hidden_tests=(test,))


def parts() -> PromptParts:
    return PromptParts(head="<|im_start|>user\nWrite add(a, b).\n", tail="<|im_end|>\n<|im_start|>assistant\n```python\n")


def attempt(lm, agent, **settings):
    st = DecodeSettings(max_new_tokens=12, max_lines=3, candidate_tokens_per_line=6, exec_workers=1,
                        plausibility_alpha=0.0, **settings)
    head = Head.build(lm, parts())
    return Attempt(lm, problem(), head, agent, 0, st).run()


GREEDY = AgentConfig(t=0.0, gamma=0.0, s=0, d=0)


@pytest.mark.parametrize("shape,accept_ids", [("classic", True), ("chat", False), ("chat", True)])
def test_greedy_attempt_equals_the_in_process_model(shape, accept_ids):
    """Top-k holds the argmax, so greedy decoding over the server writes what the same model
    writes in process, token for token, in either response shape and prompt format."""
    model, tok = tiny_model(seed=1)
    want = attempt(TransformersEngine(model, tok), GREEDY)
    with FakeServer(shape=shape, accept_ids=accept_ids) as srv:
        lm, fingerprint = connect(srv)
        assert lm.prompt_ids is accept_ids and lm.model == "tiny" and fingerprint.startswith("openai:tiny:")
        got = attempt(lm, GREEDY)
    assert [d.token_id for ln in got.lines for d in ln.tokens] == [d.token_id for ln in want.lines for d in ln.tokens]
    assert got.code == want.code
    # the recorded log-probs are the top-k's, renormalised
    first = got.lines[0].tokens[0]
    assert len(first.topk_uncond) == 5 and abs(sum(torch.tensor([v for _, v in first.topk_uncond]).exp()) - 1) < 1e-4


def test_top_k_cfg_floors_p_dyn_on_p_sol_top_k_and_pair_steps_in_one_request():
    with FakeServer() as srv:
        lm, _ = connect(srv, top_logprobs=3)
        assert lm.batch_prompts
        sol = lm.start(lm.encode("def add(a, b):\n"))
        dyn = lm.start(lm.encode("# add them\ndef add(a, b):\n"))
        pair = lm.pair(sol, dyn)
        before = srv.completions
        u, c = lm.pair_step(pair, lm.encode(" ")[0])
        assert srv.completions == before + 1  # both prompts in one request
        assert torch.isfinite(u).sum() == 3
        sol_top = torch.isfinite(u)
        assert torch.isfinite(c[sol_top]).all()  # every p_sol top-k token has a p_dyn value
        dyn_vals = sorted(v for _, v in pair.dyn.last)
        floored = [float(c[t]) for t in torch.nonzero(sol_top).flatten().tolist() if t not in dict(pair.dyn.last)]
        assert all(v == dyn_vals[0] for v in floored)
        assert lm.unpair(pair) is sol
        # without prompt lists: two concurrent requests, the same numbers
        srv.batch_prompts = False
        lm2, _ = connect(srv, top_logprobs=3)
        assert not lm2.batch_prompts
        p2 = lm2.pair(lm2.start(lm.encode("def add(a, b):\n")), lm2.start(lm.encode("# add them\ndef add(a, b):\n")))
        u2, c2 = lm2.pair_step(p2, lm.encode(" ")[0])
        assert torch.allclose(u, u2) and torch.equal(torch.isfinite(c), torch.isfinite(c2))


class FixedSignal(Attempt):
    """The tiny model's candidates are not code, so the signal is fixed (as in test_decoding)."""

    def build_signal(self, sol, prefix, line_index, timings):
        return [], "\n\nfeedback: add(1, 2) returned 3\n"


def test_guided_attempt_runs_end_to_end_over_the_server():
    with FakeServer(shape="chat") as srv:
        lm, _ = connect(srv)
        st = DecodeSettings(max_new_tokens=12, max_lines=3, exec_workers=1, plausibility_alpha=0.0, skip_certain="")
        head = Head.build(lm, parts())
        agent = AgentConfig(t=0.7, gamma=1.0, s=2, d=2)
        rec = FixedSignal(lm, problem(), head, agent, 0, st).run()
        cands = Attempt(lm, problem(), head, agent, 0, st).explore(lm.fork(head.stream), "", 0)
    assert rec.lines and all(ln.signal_text for ln in rec.lines)
    guided = [d for ln in rec.lines for d in ln.tokens]
    assert guided and all(d.topk_guided and d.topk_combined for d in guided)
    # the combined distribution lives on p_sol's top-k
    assert all({t for t, _ in d.topk_combined} <= {t for t, _ in d.topk_uncond} for d in guided)
    assert len(cands) == 2 and all(c.raw_text for c in cands)


@pytest.mark.parametrize("honor_n", [True, False])
def test_candidates_have_d_lines_are_seeded_and_fill_in_missing_choices(honor_n):
    with FakeServer(honor_n=honor_n) as srv:
        lm, _ = connect(srv)
        s = lm.start(lm.encode("def add(a, b):\n"))
        srv.completions = 0
        rows = lm.sample(s, n=3, temperature=1.5, top_p=1.0, lines=2, max_new_tokens=40, seed=11)
        again = lm.sample(s, n=3, temperature=1.5, top_p=1.0, lines=2, max_new_tokens=40, seed=11)
        other = lm.sample(s, n=3, temperature=1.5, top_p=1.0, lines=2, max_new_tokens=40, seed=12)
    assert len(rows) == 3 and rows == again and rows != other
    texts = [lm.decode(r) for r in rows]
    assert all(t.count("\n") <= 2 for t in texts)
    assert len(set(texts)) > 1  # rows differ (single requests get their own seeds)
    sample_bodies = [b for b in srv.bodies if b.get("temperature", 0) > 0]
    assert all(b["stop"] == ["\n"] for b in sample_bodies)


def test_transient_errors_and_timeouts_are_retried_with_backoff():
    with FakeServer() as srv:
        lm, _ = connect(srv, timeout_s=0.5)
        s = lm.start(lm.encode("def f"))
        srv.faults = [503, 429]
        before = srv.completions
        lm.step(s, lm.encode("(")[0])
        assert srv.completions == before + 3
        srv.faults = [500, 500, 500]  # retries = 2: three tries, then a clear error
        with pytest.raises(EngineError, match=r"failed POST /completions after 3 tries: HTTP 500"):
            lm.step(s, lm.encode(")")[0])
        srv.delay_s = 1.0  # every try times out
        with pytest.raises(EngineError, match="timed out"):
            lm.step(s, lm.encode(")")[0])
        srv.delay_s = 0.0
        srv.faults = [400]  # not retried: the request itself is wrong
        before = srv.completions
        with pytest.raises(EngineError, match="HTTP 400"):
            lm.step(s, lm.encode(")")[0])
        assert srv.completions == before + 1


def test_a_dead_server_fails_the_call_cleanly():
    with FakeServer() as srv:
        lm, _ = connect(srv)
        s = lm.start(lm.encode("def f"))
    with pytest.raises(EngineError, match="after 3 tries: cannot connect"):
        lm.step(s, lm.encode("(")[0])


def test_load_errors_are_clear_and_come_first(monkeypatch):
    with FakeServer() as srv:
        url = srv.url
        with pytest.raises(EngineError, match=r"does not serve model 'gpt-9' \(it serves: tiny\)"):
            connect(srv, model="gpt-9")
        with pytest.raises(EngineError, match="GET /models failed.*HTTP 404"):
            load_engine("openai", TINY, {"base_url": url.removesuffix("/v1"), "retries": 0})
    with pytest.raises(EngineError, match="no OpenAI-compatible server at .*cannot connect"):
        load_engine("openai", TINY, {"base_url": url, "retries": 0})
    monkeypatch.delenv("EGCFG_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(EngineError, match="EGCFG_TEST_NO_SUCH_KEY.*not set"):
        load_engine("openai", TINY, {"base_url": url, "api_key_env": "EGCFG_TEST_NO_SUCH_KEY"})
    with pytest.raises(EngineError, match="top_logprobs"):
        load_engine("openai", TINY, {"base_url": url, "top_logprobs": 0})


SECRET = "sk-test-7c1f0e9d5b3a"


def test_the_api_key_comes_only_from_the_environment_and_is_never_shown(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("EGCFG_TEST_KEY", SECRET)
    with FakeServer(api_key=SECRET) as srv:
        srv.echo_auth = True  # a server that puts the Authorization header into its errors
        lm, fingerprint = connect(srv, api_key_env="EGCFG_TEST_KEY")
        s = lm.start(lm.encode("def f"))
        srv.faults = [503] * 3
        with pytest.raises(EngineError) as err:
            lm.step(s, lm.encode("(")[0])
        assert "***" in str(err.value) and SECRET not in str(err.value)
        monkeypatch.setenv("EGCFG_TEST_KEY", "wrong-" + SECRET)
        with pytest.raises(EngineError, match="refused the request") as bad:
            connect(srv, api_key_env="EGCFG_TEST_KEY")
        assert SECRET not in str(bad.value)
        with pytest.raises(EngineError, match="refused"):
            connect(srv)  # no key at all
    assert SECRET not in fingerprint and SECRET not in caplog.text
    assert SECRET not in repr(vars(lm))


def test_sweep_over_the_server_stores_no_secret_and_resumes(prefect_harness, data_dir, tmp_path, monkeypatch):
    """A sweep on the openai engine: the run id has top_logprobs but not the address or the key's
    variable, nothing stored mentions the key, and a second sweep skips the finished problem."""
    from egcfg_core.config import load_config
    from flows.sweep import sweep_flow

    monkeypatch.setenv("EGCFG_TEST_KEY", SECRET)
    with FakeServer(api_key=SECRET) as srv:
        cfg = load_config(None, dict(model=TINY, engine="openai", benchmark="mbpp", tasks="11", data_dir=str(data_dir),
                                     t=[0.7], gamma=[1.0], s=[2], d=[1], max_new_tokens=8,
                                     engine_options={"base_url": srv.url, "api_key_env": "EGCFG_TEST_KEY"}))
        assert cfg.semantic()["engine_options"] == {"top_logprobs": 5}
        db = tmp_path / "o.duckdb"
        st = sweep_flow(config=cfg, db=str(db))
        assert st["done"] == 1 and st["failed"] == 0
        n = srv.completions
        assert sweep_flow(config=cfg, db=str(db))["done"] == 1 and srv.completions == n  # resumed: no requests
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes()
