"""Back-fill where each attempt's code came from in committed results exports (results/<EXP>/).

    .venv/bin/python scripts/backfill_attribution.py                 # every results/* folder
    .venv/bin/python scripts/backfill_attribution.py results/mbpp500 # some

The exports hold each attempt's row but not its lines, candidates or token decisions (those stay
in the stores, which are not committed), so only what a row tells is filled in
(``egcfg_core.attribution.attribute_without_lines``):

- ``code_source`` of every attempt: greedy / sampler (γ = 0, by t), draft (stop_reason
  'verified', at ``verified_line``), none (no code); an EG-CFG agent's code written by its line
  loop to the end is 'loop': whether any of its tokens was chosen under a signal is in its lines;
- ``final_guided_lines`` / ``final_guided_tokens`` / ``final_flipped_tokens`` where they are
  certainly 0: γ = 0 attempts, attempts without code, drafts accepted at line 0, and at line 1
  when the run wrote its header line unguided (decode.skip_certain has 'header'); NULL elsewhere;
- ``final_tokens`` of drafts (every token decoded before the draft is in its code: ``n_tokens``);
  NULL elsewhere (where the code ends inside the decoded tokens needs the lines).

The compute columns stay NULL: nothing of what the attempts cost beyond ``timings`` was kept.
Rows that already have a ``code_source`` (written by code that measured it from the lines) are
left as they are, so rerunning changes nothing.  Each ``attempts/run_id=*/data_0.parquet`` is
rewritten in place (same rows, same order, zstd, as ``egcfg results export`` writes them).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]

from egcfg_core.attribution import attribute_without_lines
from egcfg_core.config import LEGACY_DECODE
from egcfg_core.decoding import skip_rules
from storage.rows import ATTRIBUTION
from storage.store import sql_to_arrow


def header_unguided(config: dict) -> bool:
    """Whether a run (its stored config) wrote the header line without a signal."""
    decode = {**LEGACY_DECODE, **(config.get("decode") or {})}
    return "header" in skip_rules(decode["skip_certain"])


def backfill_file(path: Path, config: dict) -> Counter:
    """Fill one attempts file in place; counts of (code_source, what was known) filled."""
    con = duckdb.connect()
    try:
        table = sql_to_arrow(con, f"SELECT * FROM read_parquet('{path}')")
        rows = table.to_pylist()
        header = header_unguided(config)
        filled: Counter = Counter()
        for row in rows:
            if row.get("code_source") is not None:
                continue
            got = attribute_without_lines(row["gamma"], row["t"], row["stop_reason"], row["code"],
                                          row.get("verified_line"), n_tokens=row["n_tokens"],
                                          header_unguided=header)
            row.update(got.__dict__)
            filled[(got.code_source, "signal counts known" if got.final_guided_tokens is not None
                    else "signal counts unknown")] += 1
        if not filled:
            return filled
        columns = {name: table.column(name) for name in table.column_names if name not in ATTRIBUTION}
        columns.update({name: pa.array([r[name] for r in rows], type=typ) for name, typ in ATTRIBUTION.items()})
        con.register("filled", pa.table(columns))
        tmp = path.with_name(path.name + ".tmp")
        con.execute(f"COPY filled TO '{tmp}' (FORMAT PARQUET, COMPRESSION ZSTD)")
        tmp.replace(path)
        return filled
    finally:
        con.close()


def backfill(folder: Path) -> dict[str, Counter]:
    """Every run's attempts file of one results export; {run_id: counts filled}."""
    out = {}
    for part in sorted((folder / "attempts").glob("run_id=*")):
        run_id = part.name.split("=", 1)[1]
        runs = list((folder / "runs" / part.name).glob("*.parquet"))
        con = duckdb.connect()
        try:
            (config,) = con.execute(f"SELECT config::VARCHAR FROM read_parquet('{runs[0]}')").fetchone()
        finally:
            con.close()
        counts: Counter = Counter()
        for path in sorted(part.glob("*.parquet")):
            counts += backfill_file(path, json.loads(config))
        out[run_id] = counts
    return out


def main(argv: list[str]) -> None:
    folders = [Path(a) for a in argv] or sorted(p for p in (ROOT / "results").iterdir() if (p / "attempts").is_dir())
    for folder in folders:
        for run_id, counts in backfill(folder).items():
            said = ", ".join(f"{n} {src} ({known})" for (src, known), n in sorted(counts.items())) or "nothing to fill"
            print(f"{folder.name} {run_id}: {said}")


if __name__ == "__main__":
    main(sys.argv[1:])
