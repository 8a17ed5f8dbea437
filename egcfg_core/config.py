"""Sweep configuration: a TOML or YAML file plus CLI overrides, validated field by field.

    [model]   spec = "default"          # alias, local path, hub id, or factory:module:function
              engine = "transformers"   # or another of egcfg_core.engines.ENGINES
    [engine]  the engine's own options (e.g. a server's base_url; see its OPTIONS)
    [data]    benchmark = "mbpp"; tasks = "0-19"; data_dir = ""   (data_dir "" = $EGCFG_DATA_DIR)
    [grid]    t = [0.7, 1.0]; gamma = [0.5, 1.0, 3.0]; s = [3]; d = [2, 3]; baseline = true
              sample_t = [0.7]; sample_n = 0   (samplers: the no-guidance ablation, see agents.py)
              prompt = ["default"]   (prompt variants, prompts.PROMPT_VARIANTS: "default", "long-code")
              gamma_inner = false    (true: each (t, d, s) agent tries its γ values in turn)
    [decode]  any DecodeSettings field (max_new_tokens, plausibility_alpha, seed, ...)
    [run]     agent_workers = 1; problem_workers = 1; dask_address = ""; line_tasks = false;
              fewshot = "auto"; prompt_style = "auto"; problem_retries = 1; eval_timeout_s = 10.0;
              reuse_greedy = true   (copy the unguided attempts -- greedy, samplers -- that a
              stored run of the same attempt_key already made, instead of decoding them again)
              shard = ""   ("K/N": solve only the problems at positions K, K+N, ... of the run;
              N processes, each with its own store, share one run id)
              (fewshot: MBPP's 3 few-shot turns first, true/false; prompt_style: "describe" or
              "evalplus", prompts.PROMPT_STYLES; "auto" = the benchmark's convention,
              prompts.prompting: MBPP 3-shot "describe", HumanEval 0-shot "evalplus")

The run id is a hash of everything that changes results (not of paths, worker counts or shards), so
running the same sweep again resumes it.  That includes the version of the benchmark's problem
parser (problems.PARSER_VERSIONS): what the model is shown is derived by our code, not only by
the data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agents import agent_grid
from .decoding import DecodeSettings, skip_rules
from .engines import DEFAULT_ENGINE, EngineError, engine_class, engine_options
from .problems import BENCHMARKS, PARSER_VERSIONS, parse_task_selection
from .prompts import PROMPT_VARIANTS, SIGNAL_FORMATS, prompting
from .records import AgentConfig, config_hash


class ConfigError(ValueError):
    """A bad configuration value; the message names the field."""


@dataclass(frozen=True)
class SweepConfig:
    model: str = "default"
    engine: str = DEFAULT_ENGINE
    engine_options: dict[str, Any] = field(default_factory=dict)  # the [engine] section as given
    benchmark: str = "humaneval"
    tasks: str = "all"
    data_dir: str = ""
    t: tuple[float, ...] = (0.7, 1.0)
    gamma: tuple[float, ...] = (0.5, 1.0, 3.0)
    s: tuple[int, ...] = (3,)
    d: tuple[int, ...] = (2, 3)
    baseline: bool = True
    sample_t: tuple[float, ...] = ()
    sample_n: int = 0
    prompt: tuple[str, ...] = ("default",)
    gamma_inner: bool = False  # each (t, d, s) agent tries its γ values in turn (the paper's schedule)
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    agent_workers: int = 1
    problem_workers: int = 1  # problems solved at once (a Prefect task runner)
    dask_address: str = ""  # a Dask scheduler: problems spread over its workers (prefect-dask)
    shard: str = ""  # "K/N": this process solves the run's problems K, K+N, K+2N, ... (0-based); "" = all
    line_tasks: bool = False  # each line's exploration and execution as Prefect tasks (~50 ms a line)
    fewshot: bool | str = "auto"  # MBPP's few-shot turns: true, false or "auto" (see prompting())
    prompt_style: str = "auto"  # prompts.PROMPT_STYLES or "auto" (see prompting())
    problem_retries: int = 1
    eval_timeout_s: float = 10.0
    reuse_greedy: bool = True  # copy the greedy and sampler attempts a stored run already made (attempt_key)

    def grid(self) -> list[AgentConfig]:
        return agent_grid(self.t, self.gamma, self.s, self.d, baseline=self.baseline,
                          sample_ts=self.sample_t, sample_n=self.sample_n, prompts=self.prompt,
                          gamma_inner=self.gamma_inner)

    def prompting(self) -> tuple[bool, str]:
        """(MBPP's few-shot turns first?, prompt style) of this run, "auto" resolved for its
        benchmark by ``prompts.prompting``."""
        return prompting(self.benchmark, self.fewshot, self.prompt_style)

    def semantic(self) -> dict[str, Any]:
        """What determines the results (the run id hashes this)."""
        d = dataclasses.asdict(self)
        # the prompt as resolved, not as written: "auto" and the value it stands for are one run.
        # The "describe" style (every run's before styles existed) is left out, so those runs
        # keep their ids; runs of other styles carry it
        d["fewshot"], style = self.prompting()
        d.pop("prompt_style")
        if style != LEGACY_PROMPT_STYLE:
            d["prompt_style"] = style
        for k in ("data_dir", "agent_workers", "problem_workers", "dask_address", "shard", "line_tasks",
                  "problem_retries", "reuse_greedy"):
            d.pop(k)
        d["decode"].pop("exec_workers")
        guided = any(g > 0 for g in self.gamma)
        for key, legacy in LEGACY_DECODE.items():  # settings added later: at the value runs had
            # before them, or where no agent is guided (greedy and samplers never use them), they
            # leave the run id as it was
            if not guided or d["decode"].get(key) == legacy:
                d["decode"].pop(key)
        if self.engine == "transformers" and not self.engine_options:
            d.pop("engine")  # transformers runs keep the ids they had before engines existed
            d.pop("engine_options")
        else:  # only the options that change results (a server's top-k, not its address or key)
            semantic = engine_class(self.engine).SEMANTIC
            d["engine_options"] = {k: v for k, v in engine_options(self.engine, self.engine_options).items()
                                   if k in semantic}
        if not self.sample_n:  # runs without samplers keep the ids they had before samplers existed
            d.pop("sample_t")
            d.pop("sample_n")
        if self.prompt == ("default",):  # likewise runs of the default prompt alone
            d.pop("prompt")
        if not self.gamma_inner:  # and runs in the γ-first order every run had before
            d.pop("gamma_inner")
        # what the problems show the model comes from our parsers (HumanEval's visible tests are
        # parsed from docstrings): their version is part of the id, so a run made with another
        # parse is another run; version 1 (the parser of the first recorded ids) is left out
        parser = PARSER_VERSIONS.get(self.benchmark, 1)
        if parser != 1:
            d["problems_parser"] = parser
        # carried drafts are read by the skip rules in their version CARRY_RULE (1, left out: a
        # carried draft of one line vetoed `ahead`, runs up to e14314cb9105): another rule, another run
        if guided and self.decode.carry_drafts and CARRY_RULE != 1:
            d["carry_rule"] = CARRY_RULE
        return d

    @classmethod
    def from_semantic(cls, stored: dict[str, Any]) -> "SweepConfig":
        """The config a stored run config (``semantic()``, e.g. a runs row) was made from: keys it
        leaves out at their defaults, except the later decode settings, which a run made before
        them had at their ``LEGACY_DECODE`` values, and the prompt style, which such a run had at
        ``LEGACY_PROMPT_STYLE``."""
        sem = {"prompt_style": LEGACY_PROMPT_STYLE, **{k: v for k, v in stored.items() if k not in ("problems_parser", "carry_rule")}}
        decode = DecodeSettings(**{**LEGACY_DECODE, **sem.pop("decode", {})})
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in sem.items()}, decode=decode)

    def greedy_key(self) -> str | None:
        """``greedy_key(self.semantic())``: what this run's greedy attempt depends on."""
        return greedy_key(self.semantic())

    def attempt_keys(self) -> list[str | None]:
        """``attempt_key`` of each agent of the grid, in grid order (None: a guided agent)."""
        semantic = self.semantic()
        return [attempt_key(semantic, agent) for agent in self.grid()]

    def run_id(self) -> str:
        return config_hash(self.semantic())


_SECTIONS = {
    "model": {"spec": "model", "engine": "engine"},
    "data": {"benchmark": "benchmark", "tasks": "tasks", "data_dir": "data_dir"},
    "grid": {"t": "t", "gamma": "gamma", "s": "s", "d": "d", "baseline": "baseline",
             "sample_t": "sample_t", "sample_n": "sample_n", "prompt": "prompt",
             "gamma_inner": "gamma_inner"},
    "run": {"agent_workers": "agent_workers", "problem_workers": "problem_workers",
            "dask_address": "dask_address", "shard": "shard", "line_tasks": "line_tasks", "fewshot": "fewshot",
            "prompt_style": "prompt_style", "problem_retries": "problem_retries",
            "eval_timeout_s": "eval_timeout_s", "reuse_greedy": "reuse_greedy"},
}
_DECODE_FIELDS = {f.name: f for f in dataclasses.fields(DecodeSettings)}
# DecodeSettings fields added after run ids were first recorded (issue 10), at the values every run
# had before them: left out of the run id at these values, so those runs keep their ids (and a
# stored config without one of these keys was made with this value: SweepConfig.from_semantic)
LEGACY_DECODE = {"signal_format": "v1", "accept_verified": False, "skip_certain": "", "skip_confident": 0.0,
                 "drafts_to_end": False, "carry_drafts": False}
# how the skip rules read drafts carried from an earlier line (decode.carry_drafts): 2 = a carried
# draft holding a single line neither confirms nor vetoes `ahead` (Attempt.ahead); 1 = it vetoed it
CARRY_RULE = 2
# the prompt style of every run before styles existed: left out of the run id (those runs keep
# their ids; a stored config without the key was made with it: SweepConfig.from_semantic)
LEGACY_PROMPT_STYLE = "describe"


def greedy_key(semantic: dict[str, Any]) -> str | None:
    """What the greedy baseline attempt (agent 0) of a run with this stored config (``semantic()``,
    e.g. a runs row) depends on, hashed; None when its grid does not start with that agent.
    ``attempt_key`` of that agent: two runs with one key write the same greedy attempt token for
    token (decoding is deterministic), so a sweep copies it from a stored run (``[run]
    reuse_greedy``) instead of decoding it again."""
    if not semantic.get("baseline", True):
        return None
    prompt = (semantic.get("prompt") or ["default"])[0]
    return attempt_key(semantic, AgentConfig(t=0.0, gamma=0.0, s=0, d=0, prompt=prompt))


def attempt_key(semantic: dict[str, Any], agent: AgentConfig) -> str | None:
    """What an unguided attempt (γ = 0: the greedy baseline, or a sampler) of ``agent`` in a run
    with this stored config (``semantic()``, e.g. a runs row) depends on, hashed; None for a guided
    agent.  The config less the grid, the task selection and the settings only guided agents read
    (``LEGACY_DECODE``'s), plus the agent's own identity: for the greedy agent its prompt variant,
    for a sampler its t, replicate and prompt variant (its tokens are drawn with seeds from
    ``decode.seed``, the task and the agent's name: ``decoding.line_seed``).  Two runs with one
    key write the same attempt token for token, so a sweep copies it from a stored run (``[run]
    reuse_greedy``) instead of decoding it again.  Computed on the stored dict itself, not on a
    config rebuilt from it, so whatever the stored run recorded (its problem parser version, a
    setting this code no longer has) keeps the keys apart."""
    if agent.gamma != 0:
        return None
    d = json.loads(json.dumps(semantic))
    d.pop("prompt", None)
    for k in ("tasks", "t", "gamma", "s", "d", "baseline", "sample_t", "sample_n"):
        d.pop(k, None)
    for k in LEGACY_DECODE:
        d.get("decode", {}).pop(k, None)
    if agent.is_baseline:
        d["greedy_prompt"] = agent.prompt
    else:
        d["sampler"] = {"t": float(agent.t), "replicate": int(agent.replicate), "prompt": agent.prompt}
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stored_attempt_keys(semantic: dict[str, Any]) -> list[str | None]:
    """``attempt_key`` of each agent of a stored run (``semantic()``, e.g. a runs row), by agent
    index; None for a guided agent.  The grid is rebuilt from the stored config
    (``SweepConfig.from_semantic``), the keys computed on the stored dict itself."""
    return [attempt_key(semantic, agent) for agent in SweepConfig.from_semantic(semantic).grid()]


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as e:
        raise ConfigError(f"{path}: cannot parse: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a table of sections")
    return data


def parse_shard(spec: Any) -> tuple[int, int]:
    """``run.shard`` "K/N" as (K, N): this process takes the run's problems at positions K, K+N, ...
    of its selection (0 <= K < N).  Not part of the run id: N processes with their own stores
    solve one run between them, and their exports add up (``egcfg results export``)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(spec))
    if not m or not int(m[1]) < int(m[2]):
        raise ConfigError(f"run.shard: expected K/N with 0 <= K < N (e.g. 0/2 and 1/2 for two processes), got {spec!r}")
    return int(m[1]), int(m[2])


def _num_list(name: str, value: Any, typ: type, *, lo: float, lo_inclusive: bool = True,
              allow_empty: bool = False) -> tuple:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items and not allow_empty:
        raise ConfigError(f"{name}: must not be empty")
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (typ is int and not float(v).is_integer()):
            raise ConfigError(f"{name}: expected {typ.__name__} values, got {v!r}")
        if v < lo or (v == lo and not lo_inclusive):
            raise ConfigError(f"{name}: must be {'>=' if lo_inclusive else '>'} {lo}, got {v!r}")
        out.append(typ(v))
    return tuple(out)


def decode_overrides(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings (the CLI's ``--decode``) as typed [decode] overrides: the value is
    read as the field's type (true/false, a number, or text as given; ``skip_certain=`` is empty)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        f = _DECODE_FIELDS.get(key)
        if not sep or f is None:
            raise ConfigError(f"--decode {item!r}: expected KEY=VALUE with KEY a [decode] field "
                              f"({', '.join(_DECODE_FIELDS)})")
        want = type(f.default)
        try:
            if want is bool:
                if text.lower() not in ("true", "false"):
                    raise ValueError
                out[key] = text.lower() == "true"
            else:
                out[key] = want(text)
        except ValueError:
            raise ConfigError(f"decode.{key}: expected {want.__name__}, got {text!r}") from None
    return out


def build_config(data: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> SweepConfig:
    """Validate a parsed config mapping (sections as above) plus flat overrides (CLI)."""
    data = dict(data or {})
    flat: dict[str, Any] = {}
    decode: dict[str, Any] = {}
    for section, body in data.items():
        if section == "decode":
            if not isinstance(body, dict):
                raise ConfigError("decode: must be a table")
            decode.update(body)
            continue
        if section == "engine":
            if not isinstance(body, dict):
                raise ConfigError("engine: must be a table")
            flat["engine_options"] = dict(body)
            continue
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join([*_SECTIONS, 'decode', 'engine'])})")
        if not isinstance(body, dict):
            raise ConfigError(f"{section}: must be a table")
        for key, value in body.items():
            if key not in _SECTIONS[section]:
                raise ConfigError(f"{section}.{key}: unknown field (known: {', '.join(_SECTIONS[section])})")
            flat[_SECTIONS[section][key]] = value
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in _DECODE_FIELDS:
            decode[key] = value
        else:
            flat[key] = value

    for key, value in decode.items():
        f = _DECODE_FIELDS.get(key)
        if f is None:
            raise ConfigError(f"decode.{key}: unknown field (known: {', '.join(_DECODE_FIELDS)})")
        want = type(f.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"decode.{key}: expected {want.__name__}, got {value!r}")
        if want in (int, float) and value < 0:
            raise ConfigError(f"decode.{key}: must be >= 0, got {value!r}")
        decode[key] = value
    if "skip_confident" in decode and decode["skip_confident"] >= 1:
        raise ConfigError(f"decode.skip_confident: must be in [0, 1) (0 = off), got {decode['skip_confident']!r}")
    if "plausibility_alpha" in decode and decode["plausibility_alpha"] > 1:
        raise ConfigError(f"decode.plausibility_alpha: must be in [0, 1], got {decode['plausibility_alpha']!r}")
    if "signal_format" in decode and decode["signal_format"] not in SIGNAL_FORMATS:
        raise ConfigError(f"decode.signal_format: must be one of {', '.join(SIGNAL_FORMATS)}, "
                          f"got {decode['signal_format']!r}")
    if "skip_certain" in decode:
        try:
            skip_rules(decode["skip_certain"])
        except ValueError as e:
            raise ConfigError(f"decode.{e}") from e
    if "top_p" in decode and not 0 < decode["top_p"] <= 1:
        raise ConfigError(f"decode.top_p: must be in (0, 1], got {decode['top_p']!r}")
    if decode.get("max_new_tokens", 1) < 1:
        raise ConfigError("decode.max_new_tokens: must be >= 1")

    cfg: dict[str, Any] = {"decode": DecodeSettings(**decode)}
    if "model" in flat:
        if not isinstance(flat["model"], str) or not flat["model"].strip():
            raise ConfigError(f"model.spec: expected a non-empty string, got {flat['model']!r}")
        cfg["model"] = flat["model"]
    if "engine" in flat or "engine_options" in flat:
        name = flat.get("engine", DEFAULT_ENGINE)
        if not isinstance(name, str):
            raise ConfigError(f"model.engine: expected a string, got {name!r}")
        try:
            engine_options(name, flat.get("engine_options"))
        except EngineError as e:
            raise ConfigError(f"model.engine: {e}") from e
        cfg["engine"] = name
        cfg["engine_options"] = dict(flat.get("engine_options") or {})
    if "benchmark" in flat:
        if flat["benchmark"] not in BENCHMARKS:
            raise ConfigError(f"data.benchmark: {flat['benchmark']!r} is not one of {', '.join(BENCHMARKS)}")
        cfg["benchmark"] = flat["benchmark"]
    if "tasks" in flat:
        tasks = str(flat["tasks"])
        try:
            parse_task_selection(tasks)
        except ValueError as e:
            raise ConfigError(f"data.tasks: {e}") from e
        cfg["tasks"] = tasks
    if "data_dir" in flat:
        cfg["data_dir"] = str(flat["data_dir"] or "")
    if "t" in flat:
        cfg["t"] = _num_list("grid.t", flat["t"], float, lo=0)
    if "gamma" in flat:
        # gamma = [] with baseline = true is a baseline-only (greedy) run
        cfg["gamma"] = _num_list("grid.gamma", flat["gamma"], float, lo=0, allow_empty=True)
    if "s" in flat:
        cfg["s"] = _num_list("grid.s", flat["s"], int, lo=1)
    if "d" in flat:
        cfg["d"] = _num_list("grid.d", flat["d"], int, lo=1)
    if "sample_t" in flat:
        cfg["sample_t"] = _num_list("grid.sample_t", flat["sample_t"], float, lo=0, lo_inclusive=False,
                                    allow_empty=True)
    if "sample_n" in flat:
        cfg["sample_n"] = _num_list("grid.sample_n", flat["sample_n"], int, lo=0)[0]
    if "prompt" in flat:
        items = flat["prompt"] if isinstance(flat["prompt"], (list, tuple)) else [flat["prompt"]]
        if not items:
            raise ConfigError("grid.prompt: must not be empty")
        for v in items:
            if v not in PROMPT_VARIANTS:
                raise ConfigError(f"grid.prompt: {v!r} is not one of {', '.join(PROMPT_VARIANTS)}")
        if len(set(items)) != len(items):
            raise ConfigError(f"grid.prompt: a variant is listed twice: {list(items)!r}")
        cfg["prompt"] = tuple(items)
    for key in ("fewshot", "prompt_style"):  # checked below, with the benchmark (prompting())
        if key in flat:
            cfg[key] = flat[key]
    for key, name in (("baseline", "grid.baseline"), ("gamma_inner", "grid.gamma_inner"),
                      ("line_tasks", "run.line_tasks"),
                      ("reuse_greedy", "run.reuse_greedy")):
        if key in flat:
            if not isinstance(flat[key], bool):
                raise ConfigError(f"{name}: expected true or false, got {flat[key]!r}")
            cfg[key] = flat[key]
    if "dask_address" in flat:
        if not isinstance(flat["dask_address"], str):
            raise ConfigError(f"run.dask_address: expected a string like tcp://host:8786, got {flat['dask_address']!r}")
        cfg["dask_address"] = flat["dask_address"]
    if flat.get("shard") not in (None, ""):
        parse_shard(flat["shard"])  # ConfigError naming the setting
        cfg["shard"] = str(flat["shard"])
    for key in ("agent_workers", "problem_workers", "problem_retries"):
        if key in flat:
            cfg[key] = _num_list(f"run.{key}", flat[key], int, lo=0 if key == "problem_retries" else 1)[0]
    if "eval_timeout_s" in flat:
        cfg["eval_timeout_s"] = _num_list("run.eval_timeout_s", flat["eval_timeout_s"], float, lo=0, lo_inclusive=False)[0]
    out = SweepConfig(**cfg)
    try:
        out.prompting()
    except ValueError as e:  # a bad fewshot or prompt_style, or a style the benchmark cannot take
        raise ConfigError(f"run.{e}") from None
    if not out.grid():
        raise ConfigError("grid: no agents (baseline = false, no γ > 0 and no samplers)")
    return out


# Named configurations shipped with the package (``egcfg sweep --preset NAME``): a base that a
# config file and the CLI's overrides refine (docs/PAPER_PRESET.md for "paper")
PRESETS_DIR = Path(__file__).parent / "presets"


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                preset: str | None = None) -> SweepConfig:
    """Read a TOML/YAML sweep config (optional) over a preset (optional: its fields first, the
    file's replace them field by field) and apply CLI overrides; ConfigError on bad values."""
    data: dict[str, Any] = {}
    if preset:
        if preset not in presets():
            raise ConfigError(f"unknown preset {preset!r} (known: {', '.join(presets())})")
        data = _read(PRESETS_DIR / f"{preset}.toml")
    if path:
        for section, body in _read(Path(path)).items():
            if isinstance(body, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **body}
            else:
                data[section] = body
    return build_config(data, overrides)
