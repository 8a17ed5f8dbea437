"""Shared fixtures: a session-wide quiet Prefect test server, and the benchmark data folder."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path | None:
    """EGCFG_DATA_DIR, else <repo>/../shared/data, when it holds the MBPP files (else None)."""
    env = os.environ.get("EGCFG_DATA_DIR", "").strip()
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (cand / "mbpp_test.jsonl").is_file() and (cand / "mbpp_et_tests.jsonl").is_file():
            return cand
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = real_data_dir()
    if found is None:
        pytest.skip("benchmark data not found: set EGCFG_DATA_DIR or put it at <repo>/../shared/data")
    return found


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server + SQLite db for the whole session (one ~7 s start), with the
    flow heartbeat off (it costs ~1 s per sync flow), analytics off and logging at WARNING.
    Yields the server's API URL (subprocesses can use it through PREFECT_API_URL)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    logging.getLogger("prefect").setLevel(logging.WARNING)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        with prefect_test_harness(server_startup_timeout=120):
            yield PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a module's tests, restored after.  On a busy 2-core machine two
    intra-op threads make the tiny model 20-40x slower and erratic (measured: a 3-problem solve
    took 0.7 s with one thread, 1.4-34 s with two); one thread keeps the tests fast and steady."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
