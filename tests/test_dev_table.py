"""scripts/dev_table.py on committed results: the greedy row of runs whose greedy attempts were
copied from another run (attempts.reused_from) comes from that run's --all-attempts scores."""
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "results" / "issue10-dev-humaneval"
SOURCE = ROOT / "results" / "humaneval164"


@pytest.mark.skipif(not (DEV / "runs").is_dir() or not (SOURCE / "runs").is_dir(),
                    reason="the committed HumanEval dev results are not in this checkout")
def test_greedy_row_of_copied_attempts_comes_from_the_source_run():
    args = [sys.executable, str(ROOT / "scripts" / "dev_table.py"), "--db", str(DEV), "--db", str(SOURCE),
            "--suite", "humaneval", "sampling=93fb1+b5261", "ahead=2655f+3450d"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    row = re.search(r"^\| greedy \| (\d+)/(\d+) \|", out, re.M)
    assert row, out
    # the source run's own score of its greedy attempts on the same 50 dev tasks
    con = duckdb.connect()
    (expected,) = con.execute(
        "SELECT count(*) FILTER (WHERE passed) FROM read_parquet(?, hive_partitioning = true) "
        "WHERE agent_index = 0 AND suite = 'humaneval' AND run_id = 'bd4fb20f2baa' "
        "AND CAST(split_part(task_id, '/', 2) AS INT) < 50",
        [str(SOURCE / "attempt_evaluations" / "*" / "*.parquet")]).fetchone()
    assert (int(row.group(1)), int(row.group(2))) == (expected, 50)
    # where each run's wins over greedy came from (attempts.code_source of its final solutions)
    wins = re.search(r"^\| ahead \| (\d+) draft \| (\d+)/(\d+) = \d+% \| (\d+)/(\d+) \| \d+ \| - \|$", out, re.M)
    assert wins, out
    assert int(wins.group(2)) == 0 and int(wins.group(3)) == 50 - expected  # greedy's failures
    # its EG-CFG attempts whose line loop wrote their code to the end, and how many passed the visible tests
    con = duckdb.connect()
    (ok, ran) = con.execute(
        "SELECT count(*) FILTER (WHERE passed_visible), count(*) FROM read_parquet(?, hive_partitioning = true) "
        "WHERE run_id IN ('2655f96bbc1e', '3450d1f95ab5') AND code_source IN ('guided', 'unguided', 'loop')",
        [str(DEV / "attempts" / "*" / "*.parquet")]).fetchone()
    assert ran > 0 and (int(wins.group(4)), int(wins.group(5))) == (ok, ran)
    # without the source run's data the row says so instead of inventing a figure
    alone = subprocess.run(args[:2] + ["--db", str(DEV)] + args[6:], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout
    assert "| greedy | not evaluated |" in alone


@pytest.mark.skipif(not (DEV / "runs").is_dir() or not (SOURCE / "runs").is_dir(),
                    reason="the committed HumanEval dev results are not in this checkout")
def test_a_suite_the_reference_run_lacks_is_named_not_a_traceback():
    # the greedy run of results/humaneval164 was never scored on a suite called 'mbpp-et'
    args = [sys.executable, str(ROOT / "scripts" / "dev_table.py"), "--db", str(DEV), "--db", str(SOURCE),
            "--suite", "humaneval", "--suite", "mbpp-et", "base=bd4fb", "ahead=2655f+3450d"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "mbpp-et: the reference run base is not scored on it yet (egcfg evaluate bd4fb20f2baa mbpp-et)" \
        in done.stdout
    assert re.search(r"^\| ahead \| \d+/\d+ \|", done.stdout, re.M)  # the scored suite still has its table


@pytest.mark.skipif(not (DEV / "runs").is_dir() or not (SOURCE / "runs").is_dir(),
                    reason="the committed HumanEval dev results are not in this checkout")
def test_a_run_labelled_greedy_is_refused_not_printed_twice():
    # 'greedy' is the table's own row; a run given that label used to print a second, different row of that name
    args = [sys.executable, str(ROOT / "scripts" / "dev_table.py"), "--db", str(DEV), "--db", str(SOURCE),
            "--suite", "humaneval", "greedy=bd4fb", "ahead=2655f+3450d"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0
    assert "'greedy' is the table's own row" in done.stderr


ISSUE29 = ROOT / "results" / "dev-issue29"


@pytest.mark.skipif(not (ISSUE29 / "runs").is_dir(), reason="the committed issue-29 dev results are not in this checkout")
def test_equal_attempts_gives_the_other_run_as_many_attempts_per_problem():
    """noaccept (greedy, then 2 guided agents) against sampling8 (greedy, then 8 samplers) at
    noaccept's attempts per problem: sampling runs as many of its agents on each problem as noaccept
    did (stopping at a visible pass) and chooses by the run's rule; recomputed here in SQL."""
    args = [sys.executable, str(ROOT / "scripts" / "dev_table.py"), "--db", str(ISSUE29), "--suite", "mbpp",
            "noaccept=1afea3d9bae2", "sampling8=701457b0ed99"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    line = re.search(r"^- at the attempts noaccept made on each problem: noaccept minus sampling8 on (\d+) "
                     r"problems: (\d+) to (\d+), ", out, re.M)
    assert line, out
    con = duckdb.connect()
    for table in ("attempts", "solutions", "attempt_evaluations"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{ISSUE29 / table / '*' / '*.parquet'}', "
                    f"hive_partitioning = true, union_by_name = true)")
    n, only_noaccept, only_sampling = con.execute("""
        WITH na AS (SELECT task_id, coalesce(min(agent_index) FILTER (WHERE passed_visible) + 1, count(*)) AS k
                    FROM attempts WHERE run_id = '1afea3d9bae2' GROUP BY task_id),
        made AS (SELECT a.task_id, a.agent_index, a.passed_visible, len(list_filter(a.visible, lambda x: x.status = 'passed')) AS vis,
                        min(a.agent_index) FILTER (WHERE a.passed_visible) OVER (PARTITION BY a.task_id) AS first_pass
                 FROM attempts a JOIN na USING (task_id)
                 WHERE a.run_id = '701457b0ed99' AND a.agent_index < na.k),
        pick AS (SELECT task_id, arg_min(agent_index, CASE WHEN first_pass IS NOT NULL THEN
                        (CASE WHEN agent_index = first_pass THEN 0 ELSE 1 END) * 1000 + agent_index
                        ELSE -vis * 1000 + agent_index END) AS agent_index FROM made GROUP BY task_id),
        samp AS (SELECT p.task_id, e.passed FROM pick p JOIN attempt_evaluations e ON e.run_id = '701457b0ed99'
                 AND e.task_id = p.task_id AND e.agent_index = p.agent_index AND e.suite = 'mbpp'),
        mine AS (SELECT task_id, passed_hidden AS passed FROM solutions WHERE run_id = '1afea3d9bae2')
        SELECT count(*), count(*) FILTER (WHERE m.passed AND NOT s.passed), count(*) FILTER (WHERE s.passed AND NOT m.passed)
        FROM mine m JOIN samp s USING (task_id)""").fetchone()
    assert (int(line.group(1)), int(line.group(2)), int(line.group(3))) == (n, only_noaccept, only_sampling)
    assert n == 100
    # the other way: noaccept has 3 agents, fewer than sampling8 made on some problems: undecided there
    assert "- at the attempts sampling8 made on each problem: noaccept minus sampling8 on 100 problems: " in out
    assert "undecided (noaccept ran out of agents with budget left" in out
