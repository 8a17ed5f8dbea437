"""`egcfg explore`: the guidance explorer, one HTML page that opens from disk (no server).

    from reports.explorer import write_explorer
    write_explorer(["runs/egcfg.duckdb"], "85b00e5e", vs="a1b2c3", out=Path("explore/"))

``out/index.html`` holds the run (config, agents) and the problem list; each problem's attempts,
lines, candidates, executions and token decisions are in ``out/data/<n>.js``, loaded by the page
with a <script> element only when the problem is clicked (``fetch`` of local files is refused by
browsers), so a 500-problem store gives a small page.  Model output is untrusted text: the data is
JSON with ``<``, ``>``, ``&``, U+2028/2029 escaped, and the page's script writes it only as text
nodes and properties (never markup).  Reads a store (the readers protocol: works while a sweep
writes), shards, a Parquet export folder (``egcfg export``), or a results export (``egcfg results
export``: attempts without their lines; the page says they are not in the export).

The page (templates/: explorer.html, .css, .js; plain CSS and script, nothing fetched) is two
panes: the problems with filters (hidden verdict, visible tests, winner source = the final
attempt's code_source, task id search), and the chosen problem: its attempts as a table
(attribution and compute columns), the attempt's code line by line with a badge for where each
line came from (``line_source``) and its tokens tinted where guided and marked where guidance
flipped the argmax (hover: log-probabilities and top-k), and a clicked line's drafts with their
runs beside its signal.  docs/EXPLORER.md shows it.
"""
from __future__ import annotations

import functools
import json
import math
import re
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import duckdb

from egcfg_core.compute import ATTEMPT_FIELDS, FIELDS
from egcfg_core.records import baseline_sql
from reports.data import ReportError
from storage.readers import dict_rows, open_stores, resolve_run
from storage.export import open_parquet

__all__ = ["safe_json", "open_source", "problem_list", "line_source", "problem_data", "write_explorer"]


def safe_json(value: Any) -> str:
    """JSON that is safe inside a <script> element or a .js file: no ``</script>``, no HTML
    entities, no raw line separators (non-finite floats become null)."""
    text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _finite(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def open_source(paths: Sequence[str | Path]) -> duckdb.DuckDBPyConnection:
    """A store, several shards, or one Parquet export folder, read-only."""
    paths = list(paths)
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return open_parquet(paths[0])
    return open_stores(paths)


def _map(m: Any) -> dict[str, float]:
    return dict(m) if m else {}


@functools.lru_cache(maxsize=16)  # per connection and table: asked once per problem otherwise
def _columns(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str]:
    return frozenset(r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall())


def _select(con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[str], alias: str = "") -> str:
    """``cols`` of ``table`` as a select list; a column the store predates reads NULL (a store
    opened read-only gets the columns added to the schema since it was written only on its next
    writable open)."""
    have, pre = _columns(con, table), f"{alias}." if alias else ""
    return ", ".join(f"{pre}{c}" if c in have else f"NULL AS {c}" for c in cols)


CANDIDATE_COLS = ("agent_index", "line_index", "candidate_index", "raw_text", "executable", "duplicate_of",
                  "carried_from")
ATTEMPT_COLS = ("agent_index", "agent_name", "t", "gamma", "s", "d", "outcome", "stop_reason",
                "passed_visible", "is_winner", "is_final", "code", "error", "visible", "timings",
                "n_lines", "n_tokens", "verified_line", "verified_candidate", "reused_from", "code_source",
                "final_tokens", "final_guided_lines", "final_guided_tokens", "final_flipped_tokens",
                *ATTEMPT_FIELDS)
LINE_COLS = ("agent_index", "line_index", "prefix", "signal_text", "chosen_text", "n_candidates",
             "timings", "skip_rule", *FIELDS)


def problem_list(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """One row per problem of the run: greedy (visible), the final attempt (its agent, where its
    code came from: ``final_source`` = its code_source), hidden verdict."""
    rows = dict_rows(con, f"""
        SELECT p.task_id, p.status, p.wall_s, p.error, s.agent_index AS final_agent,
               s.winner_agent_index AS winner, s.passed_hidden,
               fa.agent_name AS final_name, fa.gamma AS final_gamma,
               {_select(con, "attempts", ["code_source"], "fa")},
               g.passed_visible AS greedy_passed,
               (SELECT bool_or(NOT a.passed_visible AND a.outcome <> 'cancelled') FROM attempts a
                 WHERE a.run_id = p.run_id AND a.task_id = p.task_id AND a.gamma > 0) AS guided_failed,
               (SELECT count(*) FROM attempts a WHERE a.run_id = p.run_id AND a.task_id = p.task_id)
                 AS n_attempts
        FROM problems p
        LEFT JOIN solutions s USING (run_id, task_id)
        LEFT JOIN attempts fa ON fa.run_id = s.run_id AND fa.task_id = s.task_id
                             AND fa.agent_index = s.agent_index
        LEFT JOIN attempts g ON g.run_id = p.run_id AND g.task_id = p.task_id
                            AND """ + baseline_sql("g") + """
        WHERE p.run_id = ? ORDER BY p.task_id""", [run_id])
    for r in rows:
        guided_final = (r["final_gamma"] or 0) > 0
        r["final_source"] = r.pop("code_source")
        r["only_egcfg"] = bool(r["passed_hidden"] and guided_final and r["greedy_passed"] is False)
        r["broken"] = bool(r["greedy_passed"] and r["guided_failed"])
        r["none_passed"] = r["status"] == "done" and r["winner"] is None
    return sorted(rows, key=lambda r: _natural(r["task_id"]))


def _natural(task_id: str) -> list:
    """Mbpp/11 before Mbpp/100 (digits compare as numbers)."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", task_id)]


def _mask_flags(topk_g: list, topk_u: list, alpha: float, top_k: int) -> list[bool | None]:
    """For each guided top-k token: True = the plausibility mask removed it, False = kept,
    None = cannot tell from the recorded unguided top-k."""
    if not (alpha > 0 or top_k > 0) or not topk_u:
        return [False] * len(topk_g)
    u = {e["id"]: e["logp"] for e in topk_u}
    floor = topk_u[0]["logp"] + math.log(alpha) if alpha > 0 else math.inf
    in_topk = {e["id"] for e in topk_u[:top_k]} if 0 < top_k <= len(topk_u) else None
    out: list[bool | None] = []
    for e in topk_g:
        if e["id"] in u:
            kept = u[e["id"]] >= floor or (in_topk is not None and e["id"] in in_topk)
            out.append(not kept)
        elif in_topk is not None and topk_u[-1]["logp"] < floor:
            out.append(True)  # below the k-th unguided token, which is itself below the floor
        else:
            out.append(None)
    return out


def line_source(att: dict[str, Any], line_index: int, signal: str, skip_rule: str | None) -> str:
    """Where a line of an attempt came from, the badge the page puts on it: 'greedy' / 'sampled'
    (a γ = 0 agent's), 'draft' (the accepted draft: the code after this line's prefix is candidate
    ``verified_candidate`` of it), 'skipped' (a skip rule spared it: written unguided), 'guided'
    (written under an execution signal), 'unguided' (an EG-CFG agent's line without a signal and
    without a recorded rule: no visible tests, or a store older than skip_rule)."""
    if att["gamma"] == 0:
        return "greedy" if att["t"] == 0 else "sampled"
    if att["stop_reason"] == "verified" and att["verified_line"] == line_index:
        return "draft"
    if skip_rule:
        return "skipped"
    return "guided" if signal else "unguided"


def _place_in_code(att: dict[str, Any]) -> None:
    """Mark each token and line of an attempt ``in_code`` as attribution counts it: a token is in
    the code when its text starts before the end of the attempt's code (the closing fence, EOS and
    a dropped trailing statement are not)."""
    end, offset = len(att["code"] or ""), 0
    for line in att["lines"]:
        if not line["tokens"]:
            line["in_code"] = offset < end and bool(line["chosen_text"].strip())
            offset += len(line["chosen_text"])
            continue
        for tok in line["tokens"]:
            tok["in_code"] = offset < end
            offset += len(tok["text"])
        line["in_code"] = line["tokens"][0]["in_code"]


def problem_data(con: duckdb.DuckDBPyConnection, run_id: str, task_id: str,
                 vocab: dict[int, str], mask: tuple[float, int]) -> dict[str, Any]:
    """Everything the page shows for one problem of one run.  Each attempt's lines carry their
    ``source`` badge (``line_source``) and each token ``g`` (chosen under a signal: guided) next
    to ``flip`` (argmax_changed); ``lines_missing`` = the attempt wrote lines that the source does
    not hold (a results export keeps attempts, not lines)."""
    key = [run_id, task_id]
    prob = dict_rows(con, "SELECT problem::VARCHAR AS problem, status, error, wall_s FROM problems "
                      "WHERE run_id = ? AND task_id = ?", key)
    if not prob:
        return {"task_id": task_id, "missing": True}
    pj = json.loads(prob[0]["problem"]) if prob[0]["problem"] else {}
    sol = dict_rows(con, "SELECT * FROM solutions WHERE run_id = ? AND task_id = ?", key)
    attempts = dict_rows(con, f"SELECT {_select(con, 'attempts', ATTEMPT_COLS)} FROM attempts "
                          "WHERE run_id = ? AND task_id = ? ORDER BY agent_index", key)
    lines = dict_rows(con, f"SELECT {_select(con, 'lines', LINE_COLS)} FROM lines "
                       "WHERE run_id = ? AND task_id = ? ORDER BY agent_index, line_index", key)
    cands = dict_rows(con, f"""SELECT {_select(con, 'candidates', CANDIDATE_COLS)} FROM candidates
        WHERE run_id = ? AND task_id = ? ORDER BY agent_index, line_index, candidate_index""", key)
    execs = dict_rows(con, """SELECT agent_index, line_index, candidate_index, test_index, status, error,
        trace_text, duration_s FROM executions WHERE run_id = ? AND task_id = ?
        ORDER BY agent_index, line_index, candidate_index, test_index""", key)
    toks = dict_rows(con, """SELECT agent_index, line_index, position, token_id, token_text, logp_uncond,
        logp_guided, logp_combined, topk_uncond, topk_guided, topk_combined, argmax_changed
        FROM token_decisions WHERE run_id = ? AND task_id = ? ORDER BY agent_index, position""", key)
    by_att: dict[int, dict] = {}
    for a in attempts:
        att = {k: a[k] for k in ATTEMPT_COLS if k not in ATTEMPT_FIELDS}
        att.update(timings=_map(a["timings"]), lines=[], compute={k: a[k] for k in ATTEMPT_FIELDS})
        by_att[a["agent_index"]] = att
    by_line: dict[tuple, dict] = {}
    for ln in lines:
        att = by_att.get(ln["agent_index"])
        if att is None:
            continue
        grown = (att["lines"][-1]["prefix"] + att["lines"][-1]["chosen_text"]) if att["lines"] else None
        entry = dict(line_index=ln["line_index"], prefix=ln["prefix"], signal=ln["signal_text"],
                     chosen_text=ln["chosen_text"], skip_rule=ln["skip_rule"],
                     source=line_source(att, ln["line_index"], ln["signal_text"], ln["skip_rule"]),
                     timings=_map(ln["timings"]), compute={k: ln[k] for k in FIELDS},
                     candidates=[], tokens=[])
        entry["prefix_grown"] = grown == ln["prefix"]
        att["lines"].append(entry)
        by_line[(ln["agent_index"], ln["line_index"])] = entry
    by_cand: dict[tuple, dict] = {}
    for c in cands:
        entry = by_line.get((c["agent_index"], c["line_index"]))
        if entry is not None:
            att = by_att[c["agent_index"]]
            cd = dict(index=c["candidate_index"], raw=c["raw_text"], executable=c["executable"],
                      duplicate_of=c["duplicate_of"], carried_from=c["carried_from"], runs=[],
                      accepted=(entry["source"] == "draft" and att["verified_candidate"] == c["candidate_index"]))
            entry["candidates"].append(cd)
            by_cand[(c["agent_index"], c["line_index"], c["candidate_index"])] = cd
    for e in execs:
        cd = by_cand.get((e["agent_index"], e["line_index"], e["candidate_index"]))
        if cd is not None:
            cd["runs"].append(dict(test=e["test_index"], status=e["status"], error=e["error"],
                                   trace=e["trace_text"], duration_s=e["duration_s"]))
    used: set[int] = set()
    for t in toks:
        entry = by_line.get((t["agent_index"], t["line_index"]))
        if entry is None:
            continue
        tu, tg, tc = (list(t[k] or []) for k in ("topk_uncond", "topk_guided", "topk_combined"))
        for e in (*tu, *tg, *tc):
            used.add(e["id"])
        entry["tokens"].append(dict(
            pos=t["position"], id=t["token_id"], text=t["token_text"], lu=t["logp_uncond"],
            lg=t["logp_guided"], lc=t["logp_combined"], flip=t["argmax_changed"],
            g=entry["source"] == "guided", tu=tu, tg=tg, tc=tc, masked=_mask_flags(tg, tu, *mask)))
    for att in by_att.values():
        _place_in_code(att)
        att["lines_missing"] = bool(att["n_lines"]) and not att["lines"]
    for entry in by_line.values():
        if entry.pop("prefix_grown"):
            entry["prefix"] = None  # = the previous line's prefix + its chosen text
    return {"task_id": task_id, "status": prob[0]["status"], "error": prob[0]["error"],
            "wall_s": prob[0]["wall_s"], "description": pj.get("description", ""),
            "visible_tests": [t.get("source", "") or t.get("stdin", "") for t in pj.get("visible_tests", [])],
            "solution": sol[0] if sol else None, "attempts": list(by_att.values()),
            "vocab": {str(i): vocab[i] for i in sorted(used) if i in vocab}}


def _run_meta(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    (r,) = dict_rows(con, "SELECT run_id, model, code_version, config::VARCHAR AS config, "
                      "created_at::VARCHAR AS created_at FROM runs WHERE run_id = ?", [run_id])
    cfg = json.loads(r["config"])
    agents = dict_rows(con, """SELECT agent_index, agent_name, t, gamma, s, d, count(*) AS attempts,
        count(*) FILTER (passed_visible) AS passed_visible, count(*) FILTER (is_winner) AS wins,
        count(*) FILTER (stop_reason = 'verified') AS drafts, sum(timings['wall_s']) AS wall_s
        FROM attempts WHERE run_id = ? GROUP BY ALL ORDER BY agent_index""", [run_id])
    (has_lines,) = con.execute("SELECT count(*) > 0 FROM lines WHERE run_id = ?", [run_id]).fetchone()
    return {"run_id": run_id, "model": r["model"], "code_version": r["code_version"],
            "created_at": r["created_at"], "config": cfg, "agents": agents, "has_lines": has_lines}


def _mask_of(cfg: dict[str, Any]) -> tuple[float, int]:
    dec = cfg.get("decode") or {}
    return float(dec.get("plausibility_alpha", 0.05)), int(dec.get("plausibility_top_k", 0))


def _template(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


def write_explorer(db_paths: str | Path | Sequence[str | Path], run_id: str,
                   task: str | None = None, vs: str | None = None,
                   out: Path = Path("explore")) -> dict[str, Any]:
    """Write ``out/index.html`` and ``out/data/<n>.js``; returns {path, problems, bytes, seconds}."""
    t0 = time.perf_counter()
    paths = [db_paths] if isinstance(db_paths, (str, Path)) else list(db_paths)
    out = Path(out)
    con = open_source(paths)
    try:
        rid = resolve_run(con, run_id)
        vid = resolve_run(con, vs) if vs else None
        if vid == rid:
            raise ReportError(f"--vs names the explored run itself ({rid})")
        runs = [rid] + ([vid] if vid else [])
        metas = [_run_meta(con, r) for r in runs]
        plist = problem_list(con, rid)
        if task is not None:
            plist = [p for p in plist if p["task_id"] == task]
            if not plist:
                raise ReportError(f"run {rid} holds no problem {task!r}")
        vs_rows = {p["task_id"]: p for p in problem_list(con, vid)} if vid else {}
        vocab = dict(con.execute(
            "SELECT token_id, any_value(token_text) FROM token_decisions WHERE run_id IN "
            f"({', '.join('?' for _ in runs)}) GROUP BY token_id", runs).fetchall())
        try:
            data = out / "data"
            if data.exists():
                shutil.rmtree(data)
            data.mkdir(parents=True)
            for n, p in enumerate(plist):
                p["file"] = f"data/{n}.js"
                if p["task_id"] in vs_rows:
                    v = vs_rows[p["task_id"]]
                    p["vs"] = {k: v[k] for k in ("passed_hidden", "greedy_passed", "final_name", "final_source", "winner")}
                blob = {"n": n, "runs": [problem_data(con, r, p["task_id"], vocab, _mask_of(m["config"]))
                                         for r, m in zip(runs, metas)]}
                (data / f"{n}.js").write_text(f"EGCFG.receive({n},{safe_json(blob)});\n", encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"cannot write the explorer to {out}: {exc}") from exc
    finally:
        con.close()
    meta = {"runs": metas, "problems": plist, "task": task, "fields": ATTEMPT_FIELDS}
    page = (_template("explorer.html")
            .replace("/*CSS*/", _template("explorer.css"))
            .replace("/*JS*/", _template("explorer.js"))
            .replace("/*META*/", safe_json(meta).replace("</", "<\\/")))
    index = out / "index.html"
    try:
        index.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {index}: {exc}") from exc
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"path": index, "problems": len(plist), "index_bytes": index.stat().st_size,
            "total_bytes": size, "seconds": time.perf_counter() - t0}
