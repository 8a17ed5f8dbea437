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


def remote(*args, data_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "EGCFG_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "remote_sweep.py"), *map(str, args),
                           "--data-dir", str(data_dir)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_remote_sweep_resumes_from_earlier_records(records, data_dir, tmp_path):
    cfg = ROOT / "configs" / "tiny_smoke.toml"
    # both problems are in `records`: a call given them as --done solves nothing and writes nothing
    proc = remote("-c", cfg, "--workers", "1", "--deadline-s", "60", "--out", tmp_path / "out", "--done", records,
                  data_dir=data_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 problems to solve (2 already recorded)" in proc.stdout
    assert not list((tmp_path / "out").glob("worker-*.pkl.gz"))
    # a narrower selection (one task) is still skipped; neither -c nor --preset is a clear error
    proc = remote("-c", cfg, "--tasks", "12", "--out", tmp_path / "out", "--done", records, data_dir=data_dir)
    assert "0 problems to solve" in proc.stdout, proc.stdout + proc.stderr
    bad = remote("--out", tmp_path / "out", data_dir=data_dir)
    assert bad.returncode == 2 and "give -c CONFIG, --preset NAME or both" in bad.stderr


def test_ingest_takes_the_remote_overrides(records, tmp_path):
    """The run is the one `egcfg sweep` would make with the same options: --decode changes its
    config (and id) as it would there."""
    db = tmp_path / "s.duckdb"
    cfg = ROOT / "configs" / "tiny_smoke.toml"
    r = ingest(records, "-c", cfg, "--tag", "test", "--db", db, "--decode", "max_new_tokens=30")
    assert r.exit_code == 0 and "2 problems stored" in r.output, r.output
    plain = ingest(records, "-c", cfg, "--tag", "test", "--db", db)
    assert "2 problems stored" in plain.output  # another run id: nothing is "already there"
    con = duckdb.connect(str(db), read_only=True)
    caps = sorted(r[0] for r in con.execute(
        "SELECT json_extract(config, '$.decode.max_new_tokens')::INT FROM runs").fetchall())
    assert caps == [20, 30]  # tiny_smoke.toml's 20, and the override's
    none = ingest(records, "--tag", "x", "--db", db)
    assert none.exit_code != 0 and "give -c CONFIG, --preset NAME or both" in none.output
