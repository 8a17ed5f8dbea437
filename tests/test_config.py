"""Sweep configs: TOML and YAML files, CLI overrides, field-named errors, a stable run id."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egcfg_core.config import ConfigError, SweepConfig, build_config, load_config
from egcfg_core.records import AgentConfig
from egcfg_core.decoding import DecodeSettings

REPO = Path(__file__).resolve().parents[1]


def shipped(name: str) -> Path:
    """A shipped config by name, wherever it lives under configs/ (protocol/, experiments/)."""
    found = sorted((REPO / "configs").rglob(f"{name}.toml"))
    assert len(found) == 1, f"configs/**/{name}.toml: {found}"
    return found[0]

TOML = """
[model]
spec = "factory:tests.tiny:tiny_model"

[data]
benchmark = "mbpp"
tasks = "11-13"
data_dir = "/somewhere/data"

[grid]
t = [0.7, 1]
gamma = [1.0, 3.0]
s = [2]
d = [1, 2]
baseline = false

[decode]
max_new_tokens = 64
plausibility_alpha = 0.05
seed = 7

[run]
agent_workers = 2
fewshot = false
problem_retries = 0
eval_timeout_s = 3
"""

YAML = """
model: {spec: "factory:tests.tiny:tiny_model"}
data: {benchmark: mbpp, tasks: "11-13", data_dir: /somewhere/data}
grid: {t: [0.7, 1], gamma: [1.0, 3.0], s: [2], d: [1, 2], baseline: false}
decode: {max_new_tokens: 64, plausibility_alpha: 0.05, seed: 7}
run: {agent_workers: 2, fewshot: false, problem_retries: 0, eval_timeout_s: 3}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_toml_file_maps_every_section(tmp_path):
    cfg = load_config(write(tmp_path, "c.toml", TOML))
    assert cfg.model == "factory:tests.tiny:tiny_model"
    assert (cfg.benchmark, cfg.tasks, cfg.data_dir) == ("mbpp", "11-13", "/somewhere/data")
    assert cfg.t == (0.7, 1.0) and all(isinstance(x, float) for x in cfg.t)
    assert cfg.gamma == (1.0, 3.0) and cfg.s == (2,) and cfg.d == (1, 2) and cfg.baseline is False
    assert cfg.decode == dataclasses.replace(DecodeSettings(), max_new_tokens=64, plausibility_alpha=0.05, seed=7)
    assert (cfg.agent_workers, cfg.fewshot, cfg.problem_retries, cfg.eval_timeout_s) == (2, False, 0, 3.0)
    # the grid: no baseline, every (gamma, t, d, s) in gamma order
    grid = cfg.grid()
    assert len(grid) == 2 * 2 * 2 * 1 and [a.gamma for a in grid] == [1.0] * 4 + [3.0] * 4
    assert all(a.s == 2 for a in grid)


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_yaml_file_equals_the_toml_file(tmp_path, suffix):
    from_toml = load_config(write(tmp_path, "c.toml", TOML))
    from_yaml = load_config(write(tmp_path, "c" + suffix, YAML))
    assert from_yaml == from_toml and from_yaml.run_id() == from_toml.run_id()


def test_no_file_gives_the_defaults():
    assert load_config() == SweepConfig() == build_config({})


def test_empty_gamma_is_a_baseline_only_run():
    cfg = load_config(None, {"gamma": []})
    assert [(a.gamma, a.name) for a in cfg.grid()] == [(0.0, "greedy")]
    assert cfg.run_id() != SweepConfig().run_id()


def test_shipped_configs_load():
    files = sorted((REPO / "configs").rglob("*.toml"))  # protocol/ and experiments/ too
    assert files, "no configs/*.toml shipped"
    for f in files:
        cfg = load_config(f)
        assert cfg.grid(), f


def test_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, "c.toml", TOML)
    cfg = load_config(path, {"benchmark": "humaneval", "tasks": "0-1", "gamma": [0.5], "max_new_tokens": 9,
                             "seed": 3, "agent_workers": 1, "model": "other",
                             # None = "not given on the command line": the file's value stays
                             "t": None, "s": None, "plausibility_alpha": None})
    assert (cfg.benchmark, cfg.tasks, cfg.gamma, cfg.model, cfg.agent_workers) == (
        "humaneval", "0-1", (0.5,), "other", 1)
    assert (cfg.decode.max_new_tokens, cfg.decode.seed) == (9, 3)
    assert cfg.t == (0.7, 1.0) and cfg.s == (2,) and cfg.decode.plausibility_alpha == 0.05  # from the file
    assert cfg.data_dir == "/somewhere/data" and cfg.fewshot is False


# (file text, expected field name in the message)
BAD = [
    ('[grid]\nt = [-1.0]', "grid.t"),
    ('[grid]\nt = []', "grid.t"),
    ('[grid]\ngamma = []\nbaseline = false', "grid"),
    ('[grid]\ngamma = ["high"]', "grid.gamma"),
    ('[grid]\ns = [0]', "grid.s"),
    ('[grid]\ns = [1.5]', "grid.s"),
    ('[grid]\nd = ["2"]', "grid.d"),
    ('[grid]\nd = [true]', "grid.d"),
    ('[grid]\nbaseline = "yes"', "grid.baseline"),
    ('[grid]\nbaseline = false\ngamma = [0.0]', "grid"),
    ('[grid]\nwidth = 3', "grid.width"),
    ('[data]\nbenchmark = "mbppp"', "data.benchmark"),
    ('[data]\ntasks = "3-1"', "data.tasks"),
    ('[data]\ntasks = "x"', "data.tasks"),
    ('[model]\nspec = ""', "model.spec"),
    ('[model]\nspec = 3', "model.spec"),
    ('[decode]\nmax_new_tokens = 0', "decode.max_new_tokens"),
    ('[decode]\nmax_new_tokens = true', "decode.max_new_tokens"),
    ('[decode]\nmax_new_tokens = 1.5', "decode.max_new_tokens"),
    ('[decode]\ntop_p = 1.5', "decode.top_p"),
    ('[decode]\ntop_p = 0.0', "decode.top_p"),
    ('[decode]\nplausibility_alpha = 2.0', "decode.plausibility_alpha"),
    ('[decode]\nexec_timeout_s = -1.0', "decode.exec_timeout_s"),
    ('[decode]\nseed = "a"', "decode.seed"),
    ('[decode]\nbatch_streams = "no"', "decode.batch_streams"),
    ('[decode]\ntemperature = 1.0', "decode.temperature"),
    ('[run]\nagent_workers = 0', "run.agent_workers"),
    ('[run]\nproblem_retries = -1', "run.problem_retries"),
    ('[run]\neval_timeout_s = 0', "run.eval_timeout_s"),
    ('[run]\nfewshot = 1', "run.fewshot"),
    ('[sweep]\nx = 1', "sweep"),
    ('grid = 3', "grid"),
    ('decode = [1]', "decode"),
    ('[grid\nt = 1', "cannot parse"),
]


@pytest.mark.parametrize("text,field", BAD, ids=[f for _, f in BAD])
def test_invalid_values_are_refused_naming_the_field(tmp_path, text, field):
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert field in str(e.value)


@pytest.mark.parametrize("overrides,field", [
    ({"t": [-0.5]}, "grid.t"), ({"s": [0]}, "grid.s"), ({"max_new_tokens": 0}, "decode.max_new_tokens"),
    ({"seed": "x"}, "decode.seed"), ({"benchmark": "nope"}, "data.benchmark"), ({"agent_workers": 0}, "run.agent_workers"),
    ({"tasks": "1-x"}, "data.tasks"),
])
def test_invalid_overrides_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(None, overrides)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="top level"):
        load_config(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(write(tmp_path, "bad.yaml", "grid: [unclosed\n"))


def test_run_id_is_stable_and_ignores_paths_and_workers(tmp_path):
    base = load_config(write(tmp_path, "c.toml", TOML))
    rid = base.run_id()
    assert len(rid) == 12 and int(rid, 16) >= 0
    assert load_config(tmp_path / "c.toml").run_id() == rid
    # the same run whatever the data folder, worker counts and retry count
    same = [
        load_config(tmp_path / "c.toml", {"data_dir": "/elsewhere"}),
        load_config(tmp_path / "c.toml", {"data_dir": ""}),
        load_config(tmp_path / "c.toml", {"agent_workers": 7}),
        load_config(tmp_path / "c.toml", {"problem_retries": 5}),
        load_config(tmp_path / "c.toml", {"exec_workers": 9}),
        load_config(tmp_path / "c.toml", {"t": [0.7, 1.0]}),  # 1 and 1.0 are the same value
    ]
    assert [c.run_id() for c in same] == [rid] * len(same)
    # ... and a different run for anything that changes results
    changed = [
        {"seed": 8}, {"gamma": [1.0]}, {"tasks": "11-14"}, {"model": "default"}, {"max_new_tokens": 65},
        {"plausibility_alpha": 0.0}, {"benchmark": "humaneval"}, {"fewshot": True}, {"baseline": True},
        {"d": [2, 1]}, {"eval_timeout_s": 4.0},
    ]
    ids = [load_config(tmp_path / "c.toml", o).run_id() for o in changed]
    assert rid not in ids and len(set(ids)) == len(ids)
    # the id is a hash of semantic(), which leaves the paths and worker counts out
    sem = base.semantic()
    assert not {"data_dir", "agent_workers", "problem_retries"} & set(sem) and "exec_workers" not in sem["decode"]


def test_humaneval_run_id_covers_the_problem_parser(monkeypatch):
    """HumanEval's visible tests are parsed from docstrings by our code, so what the model is shown
    changes with the parser: two HumanEval configs identical but for the parser version are two
    runs (a resumed run never mixes the two parses under one id); the same config, one id."""
    import egcfg_core.config as config_mod

    cfg = load_config(shipped("quick"))
    rid = cfg.run_id()
    assert load_config(shipped("quick")).run_id() == rid
    assert cfg.semantic()["problems_parser"] == 3
    versions = dict(config_mod.PARSER_VERSIONS)
    monkeypatch.setattr(config_mod, "PARSER_VERSIONS", {**versions, "humaneval": 4})
    assert cfg.run_id() != rid
    # the committed `make run` results (results/quick-humaneval) were made with parser version 2
    # and the prompt of then (MBPP's few-shot turns, the "describe" style): those settings give
    # their id again, and nothing else in the id moved
    legacy_prompt = {"fewshot": True, "prompt_style": "describe"}
    monkeypatch.setattr(config_mod, "PARSER_VERSIONS", {**versions, "humaneval": 2})
    assert load_config(shipped("quick"), legacy_prompt).run_id() in _stored_runs("quick-humaneval")
    # version 1 (the first parser, 139 of 164 tasks with visible tests) is the id the runs had
    # before the version entered it: b1c7ef45eabb is quick.toml's run made with it (and with the
    # decode settings of then, config.LEGACY_DECODE)
    monkeypatch.setattr(config_mod, "PARSER_VERSIONS", {**versions, "humaneval": 1})
    old = load_config(shipped("quick"), {**config_mod.LEGACY_DECODE, **legacy_prompt})
    assert "problems_parser" not in old.semantic() and old.run_id() == "b1c7ef45eabb"
    # MBPP's parser is at version 1: its ids do not carry it
    monkeypatch.setattr(config_mod, "PARSER_VERSIONS", versions)
    assert "problems_parser" not in load_config(None, {"benchmark": "mbpp"}).semantic()


def _stored_runs(experiment: str) -> dict[str, dict]:
    import duckdb

    files = sorted((REPO / "results" / experiment / "runs").glob("run_id=*/*.parquet"))
    con = duckdb.connect()
    try:
        return {rid: json.loads(cfg) for rid, cfg in con.execute(
            "SELECT run_id, config::VARCHAR FROM read_parquet(?, hive_partitioning = true, "
            "hive_types = {'run_id': VARCHAR})", [[str(f) for f in files]]).fetchall()}
    finally:
        con.close()


def _config_of(stored: dict) -> SweepConfig:
    """The SweepConfig a stored run config (semantic()) was made from; left-out keys at their defaults."""
    return SweepConfig.from_semantic(stored)


@pytest.mark.parametrize("experiment, names", [
    ("mbpp500", ("mbpp500_greedy", "mbpp500_sampling", "mbpp500_egcfg")),
    ("issue10-dev-mbpp11-30", ("mbpp_dev_issue10", "mbpp_dev_issue10_sampling")),
    ("issue10-dev-after", ("mbpp_dev_issue10", "mbpp_dev_issue10_sampling", "mbpp_dev_issue10_ahead",
                           "mbpp_dev_issue10_all", "mbpp_dev_issue10_skip", "mbpp_dev_issue10_v2",
                           "mbpp_dev_issue10_verified")),
    ("issue10-dev-confident", ("mbpp_dev_issue10_confident60", "mbpp_dev_issue10_confident80")),
    ("issue10-longcode-dev", ("mbpp_dev_issue10_longcode",)),
])
def test_committed_mbpp_runs_keep_their_ids(experiment, names):
    """The MBPP configs of the committed exports give the ids (and the configs) stored there, so
    `--resume-from results/<experiment>` still finds their runs: the per-benchmark prompt choice
    ("auto": MBPP's 3 few-shot turns, the "describe" style) left MBPP's run ids as they were."""
    stored = _stored_runs(experiment)
    for name in names:
        cfg = load_config(shipped(name))
        assert cfg.prompting() == (True, "describe"), name
        assert cfg.run_id() in stored, name
        assert json.loads(json.dumps(cfg.semantic())) == stored[cfg.run_id()], name
        assert "prompt_style" not in stored[cfg.run_id()] and stored[cfg.run_id()]["fewshot"] is True


def test_prompt_choice_is_per_benchmark_and_in_the_run_id():
    """run.fewshot and run.prompt_style default to "auto": MBPP's 3 few-shot turns in the
    "describe" style for MBPP(-ET), the "evalplus" style without them for HumanEval(-ET), no turns
    for CodeContests.  The id records the resolved choice, so "auto" and what it stands for are
    one run, and a forced choice is another."""
    from egcfg_core.prompts import BENCHMARK_PROMPTING

    want = {"mbpp": (True, "describe"), "mbpp-et": (True, "describe"), "humaneval": (False, "evalplus"),
            "humaneval-et": (False, "evalplus"), "codecontests": (False, "describe")}
    assert BENCHMARK_PROMPTING == want
    for bench, (fewshot, style) in want.items():
        auto = load_config(None, {"benchmark": bench})
        assert auto.prompting() == (fewshot, style)
        sem = auto.semantic()
        assert sem["fewshot"] is fewshot and sem.get("prompt_style", "describe") == style
        explicit = load_config(None, {"benchmark": bench, "fewshot": fewshot, "prompt_style": style})
        assert explicit.run_id() == auto.run_id()
        assert load_config(None, {"benchmark": bench, "fewshot": not fewshot}).run_id() != auto.run_id()
    he = load_config(None, {"benchmark": "humaneval"})
    assert he.semantic()["prompt_style"] == "evalplus" and he.semantic()["fewshot"] is False
    forced = load_config(None, {"benchmark": "humaneval", "prompt_style": "describe", "fewshot": True})
    assert "prompt_style" not in forced.semantic() and forced.run_id() != he.run_id()
    # old config files: a boolean fewshot still works, a stored run config reads back
    toml = build_config({"data": {"benchmark": "mbpp"}, "run": {"fewshot": False}})
    assert toml.prompting() == (False, "describe")
    assert SweepConfig.from_semantic(json.loads(json.dumps(he.semantic()))).run_id() == he.run_id()
    for bad, field in (({"fewshot": "yes"}, "run.fewshot"), ({"prompt_style": "deepseek"}, "run.prompt_style"),
                       ({"benchmark": "codecontests", "prompt_style": "evalplus"}, "run.prompt_style")):
        with pytest.raises(ConfigError, match=field):
            load_config(None, bad)


def test_old_humaneval_greedy_attempts_are_never_reused():
    """A greedy attempt is copied from a stored run with the same greedy_key (run.reuse_greedy).
    The committed HumanEval runs were made with the old prompt (MBPP's turns, "describe") and the
    old task context (parser version 2): their key differs from today's HumanEval configs', so a
    new run decodes its greedy attempt again; MBPP's keys are unchanged (its attempts still count)."""
    from egcfg_core.config import greedy_key

    he = _stored_runs("humaneval164")
    old = {"bd4fb20f2baa", "1176e2a872ae", "3db8a203f4d7"}
    assert old < set(he)
    old_keys = {greedy_key(c) for r, c in he.items() if r in old}
    for name in ("humaneval164_greedy", "humaneval164_sampling", "humaneval164_egcfg"):
        key = load_config(shipped(name)).greedy_key()
        assert key not in old_keys, name
        # today's runs of these configs, committed beside the old ones, share today's key
        assert key == greedy_key(he["0b4544dab24f"]), name
    mbpp = _stored_runs("mbpp500")
    assert load_config(shipped("mbpp500_egcfg")).greedy_key() in {greedy_key(c) for c in mbpp.values()}


@pytest.mark.parametrize("experiment", sorted(p.name for p in (REPO / "results").iterdir() if (p / "runs").is_dir()))
def test_every_committed_run_is_resumable_by_this_code(experiment):
    """Each run of the committed results data: its stored config, read back as a SweepConfig by
    today's code, gives the same config and the same run id (else `--resume-from` would not find
    it, or would find it under a config it was not made with)."""
    from egcfg_core.config import CARRY_RULE
    from egcfg_core.problems import PARSER_VERSIONS

    for rid, stored in _stored_runs(experiment).items():
        cfg = _config_of(stored)
        if (stored.get("problems_parser", 1) != PARSER_VERSIONS[stored["benchmark"]]
                or stored.get("decode", {}).get("carry_drafts") and stored.get("carry_rule", 1) != CARRY_RULE):
            # made with a problem parse (HumanEval's before the task's context entered setup_code)
            # or a carried-draft rule this code no longer gives: its results do not hold for
            # today's code, and a resume must not add to them under their id
            assert cfg.run_id() != rid, f"results/{experiment} run {rid}: superseded, yet the same id"
            continue
        why = (f"results/{experiment} run {rid} was made with a config (or problem parser version) this "
               f"code no longer gives that id: a resume would not find it; remake the export")
        assert json.loads(json.dumps(cfg.semantic())) == stored, why
        assert cfg.run_id() == rid, why


def test_sweep_cli_passes_file_and_overrides(tmp_path, monkeypatch):
    """`egcfg sweep --config f --gamma ... --seed ...`: the flow gets the file's values with the
    command-line overrides on top (the flow itself is replaced: this is about argument handling)."""
    import flows.sweep
    from egcfg_cli.main import app

    seen = {}

    def fake_sweep_flow(config, db):
        seen.update(config=config, db=db)
        return {"run_id": config.run_id(), "total": 0, "done": 0, "failed": 0, "evaluated": 0,
                "passed": 0, "pass_rate": None}

    monkeypatch.setattr(flows.sweep, "sweep_flow", fake_sweep_flow)
    path = write(tmp_path, "c.toml", TOML)
    db = tmp_path / "x.duckdb"
    res = CliRunner().invoke(app, ["sweep", "--config", str(path), "--db", str(db), "--gamma", "0.5,1",
                                   "--seed", "11", "--max-new-tokens", "5", "--data-dir", str(tmp_path),
                                   "--shard", "1/3"])
    assert res.exit_code == 0, res.output
    cfg = seen["config"]
    assert cfg.shard == "1/3" and cfg.run_id() == load_config(path, {"gamma": [0.5, 1.0], "seed": 11,
                                                                     "max_new_tokens": 5}).run_id()
    assert seen["db"] == str(db)
    assert cfg.gamma == (0.5, 1.0) and cfg.decode.seed == 11 and cfg.decode.max_new_tokens == 5
    assert cfg.data_dir == str(tmp_path)
    assert cfg.t == (0.7, 1.0) and cfg.tasks == "11-13" and cfg.fewshot is False  # from the file
    assert cfg.run_id() in res.stdout


def test_sweep_cli_bad_config_exits_2_naming_the_field(tmp_path):
    bad = write(tmp_path, "bad.toml", "[grid]\ns = [0]\n")
    res = CliRunner().invoke(app_(), ["sweep", "--config", str(bad), "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 2 and "grid.s" in res.stderr, (res.exit_code, res.output)
    res = CliRunner().invoke(app_(), ["sweep", "--db", str(tmp_path / "x.duckdb"), "--max-new-tokens", "0"])
    assert res.exit_code == 2 and "decode.max_new_tokens" in res.stderr
    res = CliRunner().invoke(app_(), ["sweep", "--db", str(tmp_path / "x.duckdb"), "--shard", "2/2"])
    assert res.exit_code == 2 and "run.shard" in res.stderr
    for bad_decode, field in (("nope=1", "--decode 'nope=1'"), ("accept_verified=maybe", "decode.accept_verified"),
                              ("skip_certain=header,nope", "skip_certain")):
        res = CliRunner().invoke(app_(), ["sweep", "--db", str(tmp_path / "x.duckdb"), "--decode", bad_decode])
        assert res.exit_code == 2 and field in res.stderr, (bad_decode, res.output)
    assert not (tmp_path / "x.duckdb").exists()  # refused before anything was opened


def test_decode_overrides_are_typed_by_field():
    from egcfg_core.config import decode_overrides

    assert decode_overrides(["skip_certain=", "accept_verified=False", "seed=3", "top_p=0.9",
                             "signal_format=v1"]) == \
        {"skip_certain": "", "accept_verified": False, "seed": 3, "top_p": 0.9, "signal_format": "v1"}
    cfg = load_config(None, decode_overrides(["skip_certain=header", "accept_verified=false"]))
    assert (cfg.decode.skip_certain, cfg.decode.accept_verified) == ("header", False)


def test_sweep_console_script_bad_config(tmp_path):
    """The real entry point, in a fresh process: exit status 2, the field in stderr, no traceback."""
    bad = write(tmp_path, "bad.toml", '[decode]\ntop_p = 1.5\n')
    res = subprocess.run([sys.executable, "-m", "egcfg_cli.main", "sweep", "--config", str(bad),
                          "--db", str(tmp_path / "x.duckdb")], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, COLUMNS="200"))
    assert res.returncode == 2, res
    assert "decode.top_p" in res.stderr and "Traceback" not in res.stderr


def app_():
    from egcfg_cli.main import app

    return app


def test_sampling8_configs_reuse_the_matched_ablations_attempts():
    """The equal-compute sampling runs (configs/*_sampling8.toml): greedy + 8 samplers at t 0.7,
    named and seeded as the matched ablation's two, so their first three attempts have the same
    attempt_key as that run's and a sweep copies them (run.reuse_greedy): on MBPP from the
    committed run itself; on HumanEval from the committed run of today's sampling config (not from
    the old prompt's runs: other keys, nothing copied)."""
    from egcfg_core.config import attempt_key

    for bench in ("mbpp500", "humaneval164"):
        eight = load_config(shipped(f"{bench}_sampling8"))
        two = load_config(shipped(f"{bench}_sampling"))
        assert [a.name for a in eight.grid()] == ["greedy", *(f"sample_t0.7_r{r}" for r in range(8))]
        assert eight.attempt_keys()[:3] == two.attempt_keys()
        assert len(set(eight.attempt_keys())) == 9  # each sampler its own seed
        semantic = {k: v for k, v in eight.semantic().items() if k not in ("sample_n",)}
        assert semantic == {k: v for k, v in two.semantic().items() if k != "sample_n"}  # only the count differs
    mbpp = load_config(shipped("mbpp500_sampling8"))
    committed = _stored_runs("mbpp500")[load_config(shipped("mbpp500_sampling")).run_id()]
    assert [attempt_key(committed, a) for a in mbpp.grid()[:3]] == mbpp.attempt_keys()[:3]
    he = load_config(shipped("humaneval164_sampling8"))
    stored = _stored_runs("humaneval164")
    for rid in ("bd4fb20f2baa", "1176e2a872ae", "3db8a203f4d7"):  # the old prompt's runs: nothing copied
        assert not {attempt_key(stored[rid], a) for a in he.grid()} & set(he.attempt_keys())
    today = stored[load_config(shipped("humaneval164_sampling")).run_id()]  # today's ablation: all three
    assert [attempt_key(today, a) for a in he.grid()[:3]] == he.attempt_keys()[:3]
    # a replicate, t or seed of its own is another attempt
    base = mbpp.semantic()
    r0 = AgentConfig(t=0.7, gamma=0.0, s=0, d=0, replicate=0)
    assert attempt_key(base, r0) == mbpp.attempt_keys()[1]
    for other in (dataclasses.replace(r0, replicate=1), dataclasses.replace(r0, t=0.8),
                  dataclasses.replace(r0, prompt="long-code")):
        assert attempt_key(base, other) != attempt_key(base, r0)
    assert attempt_key({**base, "decode": {**base["decode"], "seed": 1}}, r0) != attempt_key(base, r0)
    assert attempt_key(base, AgentConfig(t=0.7, gamma=1.0, s=3, d=2)) is None
