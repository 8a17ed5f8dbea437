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
