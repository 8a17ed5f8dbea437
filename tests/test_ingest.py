"""scripts/remote_sweep.py (the plain core loop, for machines without Prefect/DuckDB) and
`egcfg ingest`, which commits its records as a run — and --baseline-only, the greedy attempts."""
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def records(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("remote")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "EGCFG_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "remote_sweep.py"), "-c",
                           str(ROOT / "configs" / "tiny_smoke.toml"), "--workers", "2", "--deadline-s", "120",
                           "--out", str(out), "--data-dir", str(data_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.glob("worker-*.pkl.gz"))
    return out


def ingest(*args):
    from egcfg_cli.main import app

    return CliRunner().invoke(app, ["ingest", *map(str, args)])


def test_ingest_stores_a_run_and_resumes(records, tmp_path):
    db = tmp_path / "s.duckdb"
    cfg = ROOT / "configs" / "tiny_smoke.toml"
    r = ingest(records, "-c", cfg, "--tag", "test", "--db", db)
    assert r.exit_code == 0, r.output
    assert "2 problems stored" in r.output
    again = ingest(records, "-c", cfg, "--tag", "test", "--db", db)
    assert "0 problems stored, 2 already there" in again.output
    base = ingest(records, "-c", cfg, "--tag", "test", "--db", db, "--baseline-only")
    assert base.exit_code == 0 and "2 problems stored" in base.output
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT run_id, json_extract(config, '$.gamma')::VARCHAR, json_extract_string(config, '$.made_on') "
                       "FROM runs ORDER BY created_at").fetchall()
    assert len(runs) == 2 and all(r[2] == "test" for r in runs)
    assert runs[1][1] == "[]"  # the baseline-only run has no γ > 0
    per_run = dict(con.execute("SELECT run_id, count(*) FROM attempts GROUP BY 1").fetchall())
    assert per_run[runs[1][0]] == 2  # one greedy attempt per problem
    assert per_run[runs[0][0]] == 4  # greedy + the γ = 1 agent on each problem (tiny never passes)
    # the baseline run's attempt is the EG-CFG run's greedy attempt, token for token
    same = con.execute("SELECT count(DISTINCT code), count(*) FROM attempts WHERE agent_index = 0 "
                       "GROUP BY task_id").fetchall()
    assert same == [(1, 2), (1, 2)]
    assert con.execute("SELECT count(*) FROM evaluations").fetchone()[0] > 0


def test_ingest_refuses_a_bad_config(records, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\ngamma = [-1]\n")
    r = ingest(records, "-c", bad, "--tag", "x", "--db", tmp_path / "s.duckdb")
    assert r.exit_code == 2 and "grid.gamma" in r.output
