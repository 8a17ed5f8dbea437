"""The report's figures as PNG plots (matplotlib)."""
from __future__ import annotations

from pathlib import Path


from reports import budget

from reports.data import (
    Budget,
    RunData,
    STAGE_LABELS,
    paper_for,
    per_problem_stages,
    run_label,
    short_id,
)


# ============================================================================= figures
def _new_figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _label_bars(ax, bars, texts: list[str]) -> None:
    for bar, text in zip(bars, texts):
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=8)


def plot_pass_at_1(runs: list[RunData], papers: dict | None, path: Path) -> Path | None:
    groups: list[tuple[str, float | None, str, float | None]] = []  # label, base, base kind, eg
    for r in runs:
        if r.evaluated == 0 and r.baseline_visible is None:
            continue
        if r.baseline_hidden is not None:
            base, kind = 100 * r.baseline_hidden, "hidden"
        elif r.baseline_visible is not None:
            base, kind = 100 * r.baseline_visible, "VISIBLE"
        else:
            base, kind = None, ""
        eg = 100 * r.pass_at_1 if r.pass_at_1 is not None else None
        groups.append((f"run {short_id(r.run_id)}\n{r.benchmark}", base, kind, eg))
    if not groups:
        return None
    seen = set()
    for r in runs:
        paper = paper_for(r.benchmark, papers)
        if paper and r.benchmark not in seen:
            seen.add(r.benchmark)
            groups.append((f"paper, {r.benchmark}\nDeepSeek-Coder-1.3B\n(full benchmark)",
                           paper["baseline"], "hidden", paper["egcfg"]))
    fig, (ax,) = _new_figure(1.9 * len(groups) + 2.5, 4.2)
    x = list(range(len(groups)))
    w = 0.38
    for i, (label, base, kind, eg) in enumerate(groups):
        if base is not None:
            hatch = "//" if kind == "VISIBLE" else None
            b = ax.bar(i - w / 2, base, w, color="#9e9e9e", hatch=hatch, edgecolor="black",
                       linewidth=0.5)
            _label_bars(ax, b, [f"{base:.1f}%" + ("\n(visible)" if kind == "VISIBLE" else "")])
        if eg is not None:
            b = ax.bar(i + w / 2, eg, w, color="#1f77b4", edgecolor="black", linewidth=0.5)
            _label_bars(ax, b, [f"{eg:.1f}%"])
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(facecolor="#9e9e9e", edgecolor="black", label="baseline γ=0 (hidden tests)"),
                       Patch(facecolor="#9e9e9e", edgecolor="black", hatch="//",
                             label="baseline γ=0 (VISIBLE tests: hidden n/a)"),
                       Patch(facecolor="#1f77b4", edgecolor="black", label="final solution (hidden tests)")],
              fontsize=8, loc="upper left")
    ax.set_xticks(x, [g[0] for g in groups], fontsize=8)
    ax.set_ylim(0, 118)
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("pass@1: γ=0 greedy baseline vs final solution")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _agent_group_label(gamma: float, t: float) -> str:
    if gamma == 0:
        return "γ=0\n(greedy)" if t == 0 else f"sampler\nt={t:g}"
    return f"γ={gamma:g}\nt={t:g}"


def plot_by_gamma_t(runs: list[RunData], path: Path) -> Path | None:
    keys = sorted({(row["gamma"], row["t"]) for r in runs for row in r.by_gamma_t})
    if not keys:
        return None
    data = [r for r in runs if r.by_gamma_t]
    fig, (ax1, ax2) = _new_figure(max(9.0, 2 * (0.6 * len(keys) * len(data) + 1.5)), 4.0, 2)
    w = 0.8 / len(data)
    top_wins = 1
    for k, r in enumerate(data):
        rows = {(row["gamma"], row["t"]): row for row in r.by_gamma_t}
        xs = [keys.index(key) - 0.4 + w * (k + 0.5) for key in rows]
        rate = [100 * v["passed_visible"] / v["attempts"] if v["attempts"] else 0 for v in rows.values()]
        wins = [v["wins"] for v in rows.values()]
        top_wins = max(top_wins, *wins)
        b1 = ax1.bar(xs, rate, w, label=f"run {short_id(r.run_id)}", edgecolor="black", linewidth=0.4)
        _label_bars(ax1, b1, [f"{v['passed_visible']}/{v['attempts']}" for v in rows.values()])
        b2 = ax2.bar(xs, wins, w, label=f"run {short_id(r.run_id)}", edgecolor="black", linewidth=0.4)
        _label_bars(ax2, b2, [str(x) for x in wins])
    for ax in (ax1, ax2):
        ax.set_xticks(range(len(keys)), [_agent_group_label(g, t) for g, t in keys], fontsize=8)
        ax.set_xlim(-0.6, len(keys) - 0.4)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylim(0, 115)
    ax1.set_ylabel("attempts passing visible tests (%)")
    ax1.set_title("visible-test pass rate by γ and t\n(labels: passed/attempts)", fontsize=10)
    ax2.set_ylabel("wins (problems)")
    ax2.set_title("wins (first agent to pass every visible test)", fontsize=10)
    ax2.set_ylim(0, top_wins * 1.25)
    from matplotlib.ticker import MaxNLocator

    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_stages(runs: list[RunData], path: Path) -> Path | None:
    data = [(r, per_problem_stages(r)) for r in runs]
    data = [(r, d) for r, d in data if d]
    if not data:
        return None
    stages: list[str] = []
    for _, d in data:
        stages += [k for k in d if k not in stages]
    fig, (ax,) = _new_figure(2.2 * len(data) + 4, 4.2)
    bottoms = [0.0] * len(data)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    for j, st in enumerate(stages):
        vals = [d.get(st, 0.0) for _, d in data]
        ax.bar(range(len(data)), vals, 0.55, bottom=bottoms, label=STAGE_LABELS.get(st, st),
               color="#bbbbbb" if st == "other_s" else colors[j % len(colors)], edgecolor="black",
               linewidth=0.4)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    for i, total in enumerate(bottoms):
        ax.annotate(f"{total:.1f} s", (i, total), xytext=(0, 2), textcoords="offset points",
                    ha="center", fontsize=8)
    ax.set_xticks(range(len(data)), [f"run {short_id(r.run_id)}" for r, _ in data])
    ax.set_ylabel("seconds per problem (mean)")
    ax.set_title("wall time per problem by stage")
    ax.set_ylim(0, max(bottoms) * 1.15 or 1)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_flips(runs: list[RunData], path: Path) -> Path | None:
    data = [r for r in runs if r.flips]
    if not data:
        return None
    gammas = sorted({f["gamma"] for r in data for f in r.flips})
    fig, (ax,) = _new_figure(max(6.0, 1.1 * len(gammas) * len(data) + 3), 4.0)
    w = 0.8 / len(data)
    top = 0.0
    for k, r in enumerate(data):
        rows = {f["gamma"]: f for f in r.flips}
        xs = [gammas.index(g) - 0.4 + w * (k + 0.5) for g in rows]
        vals = [100 * f["flips"] / f["tokens"] if f["tokens"] else 0 for f in rows.values()]
        top = max(top, *vals)
        b = ax.bar(xs, vals, w, label=f"run {short_id(r.run_id)}")
        _label_bars(ax, b, [f"{v:.1f}%\n{f['flips']}/{f['tokens']}" for v, f in zip(vals, rows.values())])
    ax.set_xticks(range(len(gammas)), [f"γ={g:g}" for g in gammas])
    ax.set_xlim(-0.6, len(gammas) - 0.4)
    ax.set_ylabel("tokens whose argmax guidance changed (%)")
    ax.set_title("argmax-flip rate by γ (guided lines only)")
    ax.set_ylim(0, max(top * 1.3, 1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_budget(runs: list[RunData], b: Budget | None, path: Path) -> Path | None:
    """Problems solved against mean compute per problem, one step curve per run (a point per
    number of agents, ending at the whole run), a panel per suite and unit."""
    if b is None or not b.units or not b.tasks[b.suites[0]]:
        return None
    panels = [(suite, unit) for suite in b.suites for unit in b.units if b.tasks[suite]
              and all(b.curve(suite, unit, r.run_id) for r in runs)]
    if not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = len(b.units) if len(b.units) > 1 else min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(5.0 * cols + 0.4, 3.9 * rows + 0.3), dpi=110)
    FigureCanvasAgg(fig)
    for i, (suite, unit) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        n, top = len(b.tasks[suite]), 1
        for j, r in enumerate(runs):
            pts = b.curve(suite, unit, r.run_id)
            xs, ys = [0.0] + [p.cost for p in pts], [0] + [p.solved for p in pts]
            top = max(top, *ys)
            ax.step(xs, ys, where="post", color=f"C{j}", marker="o", markersize=3.5, linewidth=1.3,
                    label=run_label(r))
            ax.annotate(f"{pts[-1].solved} ({len(pts)} agent{'s' * (len(pts) != 1)}): ends", (xs[-1], ys[-1]),
                        xytext=(4, -3), textcoords="offset points", fontsize=7, color=f"C{j}", va="top")
        ax.set_xlim(0, max(p.cost for r in runs for p in b.curve(suite, unit, r.run_id)) * 1.25)
        ax.set_ylim(0, top * 1.2)
        ax.set_xlabel(f"mean {budget.UNITS[unit].label}")
        ax.set_ylabel(f"problems solved on {suite} (of {n})")
        ax.set_title(f"{suite}: problems solved against {budget.UNITS[unit].label.replace(' per problem', '')}",
                     fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return path
