"""Does the guided decoder follow the draft that passed?  (issue 10 part 2, by SQL over a store)

For every guided line (a signal was shown) whose drafts start differently and pass different
numbers of visible tests ("ranked lines"), the line the decoder wrote is classed by the first line
of the drafts it equals:

    follows best      it wrote the first line of a draft that passed the most visible tests
    follows worse     it wrote the first line of a lower-scoring draft only
    (neither)         it wrote a line no draft started with

and, on the subset whose drafts include one that passed EVERY visible test and one that did not
("pass+fail lines"): follows passing / follows failing the same way.

Beside that, per run: guided lines, signal tokens per guided line (the default model's tokenizer),
and the share of guided tokens where guidance changed the argmax.

    .venv/bin/python scripts/signal_follow.py --db runs/issue10.duckdb [RUN ...]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


FOLLOW_SQL = """
WITH cand AS (  -- one row per executed, non-duplicate candidate: its first line and its score
    SELECT c.run_id, c.task_id, c.agent_index, c.line_index, c.candidate_index,
           trim(split_part(c.raw_text, chr(10), 1)) AS first_line,
           count(*) FILTER (WHERE e.status = 'passed') AS score,
           bool_and(e.status = 'passed') AS passed_all
    FROM candidates c JOIN executions e USING (run_id, task_id, agent_index, line_index, candidate_index)
    WHERE c.executable IS NOT NULL AND c.duplicate_of IS NULL
    GROUP BY ALL
), scored AS (
    SELECT *, max(score) OVER (PARTITION BY run_id, task_id, agent_index, line_index) AS best
    FROM cand
), mixed AS (  -- guided lines whose drafts start differently and score differently
    SELECT l.run_id, l.task_id, l.agent_index, l.line_index,
           trim(split_part(l.chosen_text, chr(10), 1)) AS written,
           list(DISTINCT first_line) FILTER (WHERE passed_all) AS pass_lines,
           list(DISTINCT first_line) FILTER (WHERE NOT passed_all) AS fail_lines,
           list(DISTINCT first_line) FILTER (WHERE score = best) AS best_lines,
           list(DISTINCT first_line) FILTER (WHERE score < best) AS worse_lines,
           bool_or(passed_all) AND bool_or(NOT passed_all) AS pass_and_fail
    FROM lines l JOIN scored USING (run_id, task_id, agent_index, line_index)
    WHERE l.signal_text <> ''
    GROUP BY ALL
    HAVING len(list_distinct(list(first_line))) > 1 AND min(score) < max(score)
)
SELECT run_id,
       count(*) FILTER (WHERE pass_and_fail) AS mixed_lines,
       count(*) FILTER (WHERE pass_and_fail AND list_contains(pass_lines, written)) AS follows_passing,
       count(*) FILTER (WHERE pass_and_fail AND NOT list_contains(pass_lines, written)
                        AND list_contains(fail_lines, written)) AS follows_failing,
       count(*) AS ranked_lines,
       count(*) FILTER (WHERE list_contains(best_lines, written)) AS follows_best,
       count(*) FILTER (WHERE NOT list_contains(best_lines, written) AND list_contains(worse_lines, written)) AS follows_worse
FROM mixed GROUP BY run_id
"""

LINES_SQL = """
SELECT run_id, count(*) FILTER (WHERE signal_text <> '') AS guided_lines,
       count(*) FILTER (WHERE n_candidates > 0) AS explored_lines, count(*) AS lines
FROM lines GROUP BY run_id
"""

FLIPS_SQL = """
SELECT d.run_id, avg(d.argmax_changed::INT) AS flip_rate, count(*) AS guided_tokens
FROM token_decisions d JOIN lines l USING (run_id, task_id, agent_index, line_index)
WHERE l.signal_text <> '' GROUP BY d.run_id
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help="run ids (default: every run in the store)")
    ap.add_argument("--db", action="append", required=True, help="store(s); several = shards, unioned")
    args = ap.parse_args()
    from storage.readers import open_stores

    con = open_stores([Path(p) for p in args.db])
    names = {r: json.loads(c) for r, c in con.execute("SELECT run_id, config FROM runs").fetchall()}
    runs = args.runs or sorted(names)
    follow = {r[0]: r[1:] for r in con.execute(FOLLOW_SQL).fetchall()}
    lines = {r[0]: r[1:] for r in con.execute(LINES_SQL).fetchall()}
    flips = {r[0]: r[1:] for r in con.execute(FLIPS_SQL).fetchall()}
    from egcfg_core.config import LEGACY_DECODE
    from egcfg_core.model import load_tokenizer_folder, bf16_cache_path

    tok = load_tokenizer_folder(bf16_cache_path())
    print("| run | decode settings | lines | explored | guided | signal tokens / guided line | "
          "argmax flips (guided tokens) | pass+fail lines | follows passing | follows failing | "
          "ranked lines | follows best | follows worse |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        signals = [s for (s,) in con.execute(
            "SELECT signal_text FROM lines WHERE run_id = ? AND signal_text <> ''", [run]).fetchall()]
        per_line = sum(len(tok.encode(s, add_special_tokens=False)) for s in signals) / len(signals) if signals else 0
        dec = {**LEGACY_DECODE, **names.get(run, {}).get("decode", {})}  # a stored config lacks them at these
        setting = f"{dec['signal_format']}, verified {'on' if dec['accept_verified'] else 'off'}, " \
                  f"skip {dec['skip_certain'] or 'none'}"
        n_lines, explored, guided = (lines.get(run, (0, 0, 0))[2], lines.get(run, (0, 0, 0))[1],
                                     lines.get(run, (0, 0, 0))[0])
        mixed, fp, ff, ranked, fb, fw = follow.get(run, (0, 0, 0, 0, 0, 0))
        rate, n_tok = flips.get(run, (None, 0))
        pct = lambda a, b: f"{a} ({a / b:.0%})" if b else f"{a}"  # noqa: E731
        print(f"| {run} | {setting} | {n_lines} | {explored} | {guided} | {per_line:.0f} | "
              f"{(rate or 0):.1%} ({n_tok}) | {mixed} | {pct(fp, mixed)} | {pct(ff, mixed)} | "
              f"{ranked} | {pct(fb, ranked)} | {pct(fw, ranked)} |")


if __name__ == "__main__":
    main()
