"""What a Prefect user sees (issue 11, part 3), against a real `prefect server start` run the way a
user runs it, in the project folder: its dashboard is on; an `egcfg sweep` (the CLI, as a
subprocess) pointed at it logs one INFO line per problem to the flow run and publishes one table
artifact with the run's pass@1, baseline and counts, all read back through the Prefect client,
while the terminal shows only the CLI's own lines."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from egcfg_cli.prefect_server import free_port, wait_healthy
from tests.conftest import REPO

TINY = "factory:tests.tiny:tiny_model"
pytestmark = pytest.mark.slow
STARTUP_S = 120


def _clean_env(**extra) -> dict:
    """The environment of a user's shell: none of the quiet settings the tests or the CLI set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") or k == "PREFECT_HOME"}
    env.update(DO_NOT_TRACK="1", **extra)
    return env


@pytest.fixture(scope="module")
def user_server(tmp_path_factory):
    """`prefect server start` on a free loopback port, in the project folder, with its own
    PREFECT_HOME (a fresh database); yields (api_url, ui_url).  Skips only when it cannot start."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=_clean_env(PREFECT_HOME=str(home)), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    ui, api = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api"
    try:
        try:
            took = wait_healthy(proc, api, STARTUP_S)
        except RuntimeError as e:
            pytest.skip(f"a Prefect server could not start here: {e}: {log.read_text(errors='replace')[-800:]}")
        print(f"prefect server start: healthy after {took:.1f} s")
        yield api, ui
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its children
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def test_a_users_server_in_the_project_folder_has_its_dashboard(user_server):
    """prefect.toml no longer turns the UI off for every server; the CLI's own server still has
    none (egcfg_cli.prefect_server.SERVER_ENV), which is what Prefect's settings make of it."""
    import httpx
    from prefect.settings import Settings

    from egcfg_cli.prefect_server import SERVER_ENV

    _, ui = user_server
    page = httpx.get(ui + "/", timeout=10, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:300]
    here = os.getcwd()
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PREFECT_SERVER_UI")}
    try:
        os.chdir(REPO)  # prefect.toml is read from the folder Prefect runs in
        assert Settings().server.ui.enabled is True
        os.environ.update(SERVER_ENV)
        assert Settings().server.ui.enabled is False
    finally:
        os.chdir(here)
        for k in SERVER_ENV:
            os.environ.pop(k, None)
        os.environ.update(saved)


def _read_back(api: str, flow_run_id=None):
    """(flow runs of egcfg-sweep, newest first; their logs; their artifacts) through the client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowFilter,
        FlowFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["egcfg-sweep"])),
                                     sort=FlowRunSort.START_TIME_DESC)
        ids = [r.id for r in runs]
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
    return runs, logs, arts


def _table(artifact) -> dict[str, str]:
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return {row["figure"]: row["value"] for row in data}


def test_a_cli_sweep_logs_each_problem_and_publishes_a_summary(user_server, data_dir, tmp_path):
    api, _ = user_server
    db = tmp_path / "ui.duckdb"
    cmd = [sys.executable, "-m", "egcfg_cli.main", "sweep", "--model", TINY, "--benchmark", "mbpp",
           "--tasks", "11-12", "--data-dir", str(data_dir), "--t", "0.7", "--gamma", "1.0", "--s", "2",
           "--d", "1", "--max-new-tokens", "20", "--db", str(db)]
    env = _clean_env(PREFECT_API_URL=api, PYTHONPATH=str(REPO), EGCFG_THREADS="1",
                     PREFECT_HOME=str(tmp_path / "client-home"))
    t0 = time.monotonic()
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    sweep_s = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    print(f"CLI sweep of 2 problems against the server: {sweep_s:.1f} s")
    # the terminal: the CLI's own lines, none of Prefect's INFO records
    assert re.search(r"Mbpp/11: hidden (pass|fail)", res.stdout), res.stdout
    assert not re.search(r"INFO\s+prefect|\|\s*INFO\s*\|", res.stdout + res.stderr), res.stdout + res.stderr

    con = duckdb.connect(str(db), read_only=True)
    run_id, = con.execute("SELECT run_id FROM runs").fetchone()
    hidden = dict(con.execute("SELECT task_id, passed_hidden FROM solutions").fetchall())
    passed, evaluated = con.execute("SELECT count(*) FILTER (passed_hidden), count(passed_hidden) FROM solutions").fetchone()
    isolation, = con.execute("SELECT isolation FROM runs").fetchone()
    con.close()

    runs, logs, arts = _read_back(api)
    assert len(runs) == 1 and runs[0].state.is_completed()
    lines = [entry.message for entry in logs]
    for k, task in enumerate(["Mbpp/11", "Mbpp/12"], 1):
        verdict = "pass" if hidden[task] else "fail"
        assert any(re.fullmatch(rf"{task}: hidden {verdict}, visible (pass|fail) \(\d+ s\) \[{k}/2\]", m)
                   for m in lines), lines
    assert all(entry.level == 20 for entry in logs if entry.message.startswith("Mbpp/"))  # INFO
    assert any(m.startswith(f"run {run_id}: hidden pass@1 {passed}/{evaluated} = ") for m in lines), lines

    assert [a.key for a in arts] == [f"egcfg-run-{run_id}"] and arts[0].type == "table"
    table = _table(arts[0])
    assert table["hidden pass@1 (final solution)"] == f"{passed}/{evaluated} = {100.0 * passed / evaluated:.1f}%"
    assert table["baseline (γ=0 greedy) pass@1, hidden"]  # a figure or the reason there is none
    assert re.fullmatch(r"\d+/2 = \d+\.\d%", table["baseline (γ=0 greedy) pass@1 on VISIBLE tests"])
    assert (table["problems selected"], table["solved this session"], table["failed this session"],
            table["skipped: already done"]) == ("2", "2", "0", "0")
    assert table["sandbox isolation this session"] == "; ".join(isolation)

    # the same command again: every problem skipped as already done, a new version of the artifact
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    runs, logs, arts = _read_back(api)
    assert len(runs) == 2 and len(arts) == 2
    newest = next(a for a in arts if a.flow_run_id == runs[0].id)
    table = _table(newest)
    assert (table["solved this session"], table["skipped: already done"]) == ("0", "2")
    assert table["hidden pass@1 (final solution)"] == f"{passed}/{evaluated} = {100.0 * passed / evaluated:.1f}%"
