"""prefect.yaml: every deployment points at a real flow, with parameters that flow accepts and
configs that load; the nightly one is scheduled."""
import importlib
import inspect
from pathlib import Path

import yaml
from prefect import Flow

from egcfg_core.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def test_deployments_resolve_to_flows_with_valid_parameters():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert {"nightly-mbpp", "adhoc"} <= set(deployments)
    for d in deployments.values():
        path, func = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func)
        assert isinstance(flow, Flow), d["entrypoint"]
        params = inspect.signature(flow.fn).parameters
        assert set(d.get("parameters", {})) <= set(params), d["name"]
        cfg = d["parameters"].get("config_path")
        if cfg:
            load_config(ROOT / cfg)  # raises ConfigError naming the field if it is bad
        assert d["work_pool"]["name"] == "egcfg-process"
    assert deployments["nightly-mbpp"]["schedules"][0]["cron"].count(" ") == 4
    assert load_config(ROOT / deployments["nightly-mbpp"]["parameters"]["config_path"]).benchmark == "mbpp"
