"""The engine registry and protocol: names, options, run ids, and the transformers engine's streams."""
import pytest
import torch

from egcfg_core import engines
from egcfg_core.config import ConfigError, build_config
from egcfg_core.engines import Engine, EngineBase, EngineError, engine_options, load_engine
from egcfg_core.engines.transformers import TransformersEngine
from tests.tiny import tiny_model


class FakeServerEngine(EngineBase):
    OPTIONS = {"base_url": "http://127.0.0.1:1/v1", "top_logprobs": 5, "api_key_env": "X_KEY"}
    SEMANTIC = ("top_logprobs",)


@pytest.fixture
def fake_registered(monkeypatch):
    monkeypatch.setitem(engines.ENGINES, "fake", (__name__, "FakeServerEngine"))


def test_unknown_engine_is_named_with_the_known_ones():
    with pytest.raises(EngineError, match=r"unknown engine 'nope' \(known: transformers"):
        engines.engine_class("nope")
    with pytest.raises(ConfigError, match="model.engine: unknown engine 'nope'"):
        build_config({"model": {"engine": "nope"}})


def test_engine_options_are_validated_and_defaulted(fake_registered):
    assert engine_options("fake", {"top_logprobs": 20})["base_url"] == "http://127.0.0.1:1/v1"
    with pytest.raises(EngineError, match="unknown option.*bse_url"):
        engine_options("fake", {"bse_url": "x"})
    with pytest.raises(ConfigError, match="unknown option"):
        build_config({"model": {"engine": "fake"}, "engine": {"bse_url": "x"}})
    with pytest.raises(EngineError, match=r"unknown option\(s\) x \(known: none\)"):
        load_engine("transformers", "factory:tests.tiny:tiny_model", {"x": 1})


def test_run_id_keeps_old_ids_on_the_default_engine_and_hashes_only_semantic_options(fake_registered):
    plain = build_config({})
    assert build_config({"model": {"engine": "transformers"}}).run_id() == plain.run_id()
    assert "engine" not in plain.semantic()
    a = build_config({"model": {"engine": "fake"}, "engine": {"base_url": "http://a/v1"}})
    b = build_config({"model": {"engine": "fake"}, "engine": {"base_url": "http://b/v1", "api_key_env": "K"}})
    c = build_config({"model": {"engine": "fake"}, "engine": {"top_logprobs": 20}})
    assert a.run_id() == b.run_id() != plain.run_id()  # the address and the key's variable are not results
    assert c.run_id() != a.run_id()  # the top-k CFG sees is
    assert a.semantic()["engine_options"] == {"top_logprobs": 5}


def test_transformers_engine_streams_follow_the_protocol():
    model, tok = tiny_model(seed=1)
    lm = TransformersEngine(model, tok)
    assert isinstance(lm, Engine)
    head = lm.start(lm.encode("def f(x):\n"))
    a, b = lm.fork(head), lm.fork(head)
    la = lm.extend(a, lm.encode("    return"))
    lb = lm.extend(b, lm.encode("    return"))
    assert torch.equal(la, lb) and a.ids == b.ids == head.ids + lm.encode("    return")
    # one token appended to a paired stream == the same token stepped alone
    c = lm.fork(a)
    lm.extend(b, lm.encode(" 1 #"))  # make the rows different lengths (left padding)
    pair = lm.pair(a, b)
    u, _ = lm.pair_step(pair, lm.encode(" x")[0])
    alone = lm.step(c, lm.encode(" x")[0])
    assert torch.allclose(u, alone, atol=1e-4)
    assert lm.unpair(pair) is a and a.ids == c.ids
    rows = lm.sample(a, n=3, temperature=1.0, top_p=0.95, lines=1, max_new_tokens=8, seed=7)
    again = lm.sample(a, n=3, temperature=1.0, top_p=0.95, lines=1, max_new_tokens=8, seed=7)
    assert rows == again and len(rows) == 3
