"""Outputs of a day of staffing: a rich table, a CSV, a PNG plot and a self-contained HTML page."""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window (servers and CI have no display)
import matplotlib.pyplot as plt
from rich import box
from rich.table import Table

from simulations.forecast import LIVE_CHANNELS, DayStaffing, StaffRow

__all__ = ["CSV_COLUMNS", "day_tables", "plot_day", "process_table", "write_csv",
           "write_html", "write_reports"]

CSV_COLUMNS = (
    "level", "interval", "channel", "domain", "process", "arrivals", "aht_s", "load_erl",
    "sl_target", "within_s", "agents", "scheduled", "service_level", "asa_s", "occupancy",
    "p_wait", "p_abandon",
)
_CHANNEL_LABEL = {"phone": "Phone", "counter": "Counter"}


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _targets_line(day: DayStaffing) -> str:
    opts = day.options
    parts = []
    if opts.get("service_level") is not None or opts.get("within_s") is not None:
        parts.append("service level from the options")
    else:
        parts.append(f"service level per process from the {day.target_source}")
    if opts.get("asa_s") is not None:
        parts.append(f"ASA <= {opts['asa_s']:g} s")
    if opts.get("max_occupancy") is not None:
        parts.append(f"occupancy <= {opts['max_occupancy']:.0%}")
    if opts.get("patience_s") is not None:
        parts.append(f"Erlang A, mean patience {opts['patience_s']:g} s")
    else:
        parts.append("Erlang C")
    parts.append(f"shrinkage {opts.get('shrinkage', 0.0):.0%}")
    return "; ".join(parts)


def _channel_groups(day: DayStaffing, channel: str) -> list[str]:
    return [g.split("/", 1)[1] for g in day.groups if g.startswith(channel + "/")]


def day_tables(day: DayStaffing) -> list[Table]:
    """The per-interval table (one queue per channel), then the per-skill-group table."""
    totals = day.totals()
    hours = day.forecast.interval_min / 60.0
    channels = [c for c in LIVE_CHANNELS if _channel_groups(day, c)]
    table = Table(
        title=f"Required agents per {day.forecast.interval_min} min "
              "(each channel's processes pooled in one queue)",
        caption=_targets_line(day), box=box.SIMPLE_HEAD, pad_edge=False,
    )
    table.add_column("time", no_wrap=True)
    for c in channels:
        table.add_column(f"{c}\n{'calls' if c == 'phone' else 'visits'}", justify="right",
                         no_wrap=True)
        table.add_column("\nErl", justify="right", no_wrap=True)
        table.add_column("\nagents", justify="right", style="bold", no_wrap=True)
    table.add_column("all\nagents", justify="right", style="bold", no_wrap=True)
    table.add_column("\nsched.", justify="right", style="bold cyan", no_wrap=True)
    keys = [k for c in channels for k in (f"{c}_arrivals", f"{c}_load", f"{c}_queue")]
    keys += ["agents", "scheduled"]
    sums = dict.fromkeys(keys, 0.0)
    peak = dict.fromkeys(keys, 0.0)
    for m in day.minutes:
        t = totals[m]
        for k in keys:
            sums[k] += t[k]
            peak[k] = max(peak[k], t[k])
        table.add_row(_hm(m), *(
            f"{t[k]:.1f}" if k.endswith("_arrivals") else f"{t[k]:.2f}" if k.endswith("_load")
            else f"{t[k]:.0f}" for k in keys))
    table.add_section()
    table.add_row("peak", *("" if k.endswith("_load") else
                            f"{peak[k]:.1f}" if k.endswith("_arrivals") else f"{peak[k]:.0f}"
                            for k in keys))
    table.add_row("day", *("" if k.endswith("_load") else
                           f"{sums[k]:.0f}" if k.endswith("_arrivals") else
                           f"{sums[k] * hours:.0f}h" for k in keys))

    groups = Table(title="Per skill group (channel/domain), each with its own team",
                   box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("group", "contacts", "peak agents", "agent-hours"):
        groups.add_column(name, justify="left" if name == "group" else "right", no_wrap=True)
    per_group = day.group_agents()
    arrivals: dict[str, float] = {}
    for r in day.by_group:
        arrivals[r.group] = arrivals.get(r.group, 0.0) + r.arrivals
    for g in day.groups:
        vals = per_group[g].values()
        groups.add_row(g, f"{arrivals[g]:.1f}", str(max(vals, default=0)),
                       f"{sum(vals) * hours:.1f}")
    groups.add_section()
    for c in channels:
        for label, key in (("Σ skill groups", "groups"), ("one queue", "queue"),
                           ("Σ processes", "processes")):
            series = [totals[m][f"{c}_{key}"] for m in day.minutes]
            groups.add_row(f"{c}: {label}", "", f"{max(series):.0f}",
                           f"{sum(series) * hours:.1f}")
    return [table, groups]


def _process_summary(day: DayStaffing) -> list[dict[str, Any]]:
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for r in day.by_process:
        s = acc.setdefault((r.process, r.channel), {
            "process": r.process, "channel": r.channel, "domain": r.domain, "arrivals": 0.0,
            "work_s": 0.0, "peak": 0, "sl_target": r.sl_target, "within_s": r.within_s})
        s["arrivals"] += r.arrivals
        s["work_s"] += r.arrivals * r.aht_s
        s["peak"] = max(s["peak"], r.agents)
    out = sorted(acc.values(), key=lambda s: (LIVE_CHANNELS.index(s["channel"]), s["domain"],
                                              s["process"]))
    for s in out:
        s["aht_s"] = s["work_s"] / s["arrivals"] if s["arrivals"] else 0.0
    return out


def process_table(day: DayStaffing) -> Table:
    """Per process and channel: contacts of the day, AHT, target and peak agents if served alone."""
    table = Table(title="Per process, each with its own team", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for name in ("process", "channel", "contacts", "AHT s", "target", "peak agents"):
        table.add_column(name, justify="left" if name in ("process", "channel") else "right",
                         no_wrap=True)
    for s in _process_summary(day):
        table.add_row(s["process"], s["channel"], f"{s['arrivals']:.1f}", f"{s['aht_s']:.0f}",
                      f"{s['sl_target']:.0%} in {s['within_s']:g}s", str(s["peak"]))
    return table


def _csv_row(level: str, r: StaffRow) -> list[str]:
    return [
        level, r.start, r.channel, r.domain, r.process, f"{r.arrivals:.4f}", f"{r.aht_s:.1f}",
        f"{r.load_erl:.4f}", f"{r.sl_target:.4f}", f"{r.within_s:g}", str(r.agents),
        str(r.scheduled), f"{r.service_level:.6f}", f"{r.asa_s:.3f}", f"{r.occupancy:.4f}",
        f"{r.p_wait:.6f}", f"{r.p_abandon:.6f}",
    ]


def write_csv(day: DayStaffing, path: Path) -> Path:
    """Every cell at every level: ``process``, ``group`` (channel x domain), ``queue`` (channel)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for level, rows in (("queue", day.by_channel), ("group", day.by_group),
                            ("process", day.by_process)):
            for r in sorted(rows, key=lambda r: (r.minute, r.channel, r.domain, r.process)):
                w.writerow(_csv_row(level, r))
    return path


def plot_day(day: DayStaffing, path: Path) -> Path:
    """Arrivals, then per channel the agents per skill group (stacked) and in one queue."""
    minutes = day.minutes
    x = list(range(len(minutes)))
    totals = day.totals()
    per_group = day.group_agents()
    channels = [c for c in LIVE_CHANNELS if _channel_groups(day, c)]
    fig, axes = plt.subplots(1 + len(channels), 1, figsize=(11, 3.2 * (1 + len(channels))),
                             sharex=True, constrained_layout=True)
    ax0 = axes[0]
    width = 0.8 / max(len(channels), 1)
    for i, c in enumerate(channels):
        ax0.bar([xi + (i - (len(channels) - 1) / 2) * width for xi in x],
                [totals[m][f"{c}_arrivals"] for m in minutes], width=width,
                label=_CHANNEL_LABEL[c])
    ax0.set_ylabel(f"contacts / {day.forecast.interval_min} min")
    ax0.set_title(f"Forecast: {Path(day.forecast.source).name}")
    ax0.legend(loc="upper right")
    ax0.grid(axis="y", alpha=0.3)
    cmap = plt.get_cmap("tab20")
    for ax, c in zip(axes[1:], channels):
        bottom = [0.0] * len(minutes)
        for j, d in enumerate(_channel_groups(day, c)):
            vals = [per_group[f"{c}/{d}"].get(m, 0) for m in minutes]
            ax.bar(x, vals, bottom=bottom, width=0.9, color=cmap(j % 20), label=d, alpha=0.85)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.step(x, [totals[m][f"{c}_processes"] for m in minutes], where="mid", color="grey",
                linestyle="--", label="Σ processes")
        ax.step(x, [totals[m][f"{c}_queue"] for m in minutes], where="mid", color="black",
                linewidth=2.2, label="one queue")
        ax.step(x, [totals[m][f"{c}_scheduled"] for m in minutes], where="mid",
                color="tab:cyan", linewidth=1.6, label="one queue + shrinkage")
        ax.set_ylabel("agents")
        ax.set_title(f"{_CHANNEL_LABEL[c]}: required agents per skill group (stacked)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    step = max(1, len(minutes) // 18)
    axes[-1].set_xticks(x[::step])
    axes[-1].set_xticklabels([_hm(m) for m in minutes][::step], rotation=45)
    fig.suptitle(_targets_line(day), fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f0f3f7}td.l,th.l{text-align:left}
tr.total td{font-weight:bold;background:#fafafa}
img{max-width:100%;border:1px solid #ddd}
.note{color:#555;font-size:.9em}
"""


def _table_html(header: list[str], rows: list[list[str]], left: int = 1,
                total_rows: int = 0) -> str:
    esc = html.escape
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if i < left else ""}">{esc(h)}</th>' for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        cls = ' class="total"' if k >= len(rows) - total_rows else ""
        out.append(f"<tr{cls}>")
        out += [f'<td class="{"l" if i < left else ""}">{esc(v)}</td>' for i, v in enumerate(row)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def write_html(day: DayStaffing, path: Path, png: Path) -> Path:
    """A single HTML file (the plot embedded as base64): summary, plot and tables."""
    esc = html.escape
    totals = day.totals()
    minutes = day.minutes
    hours = day.forecast.interval_min / 60.0
    img = base64.b64encode(png.read_bytes()).decode("ascii")
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>Staffing of the day</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>Staffing of the day</h1>",
        (f"<p>Forecast <code>{esc(day.forecast.source)}</code>, "
         f"{len(minutes)} intervals of {day.forecast.interval_min} min "
         f"({_hm(minutes[0])}–{_hm(minutes[-1] + day.forecast.interval_min)}).<br>"
         f"{esc(_targets_line(day))}.</p>"),
    ]
    summary_rows = []
    for c in LIVE_CHANNELS:
        if not _channel_groups(day, c):
            continue
        summary_rows.append([
            _CHANNEL_LABEL[c],
            f"{sum(totals[m][f'{c}_arrivals'] for m in minutes):.0f}",
            f"{max(totals[m][f'{c}_queue'] for m in minutes):.0f}",
            f"{max(totals[m][f'{c}_scheduled'] for m in minutes):.0f}",
            f"{max(totals[m][f'{c}_groups'] for m in minutes):.0f}",
            f"{max(totals[m][f'{c}_processes'] for m in minutes):.0f}",
            f"{sum(totals[m][f'{c}_queue'] for m in minutes) * hours:.1f}",
            f"{sum(totals[m][f'{c}_scheduled'] for m in minutes) * hours:.1f}",
        ])
    parts.append("<h2>Summary</h2>")
    parts.append(_table_html(
        ["channel", "contacts", "peak agents (one queue)", "peak scheduled",
         "peak Σ skill groups", "peak Σ processes", "agent-hours", "scheduled hours"],
        summary_rows))
    parts.append(
        "<p class=\"note\"><b>One queue</b>: every process of the channel pooled, as the "
        "single front desk routes them (agents versatile enough for all of them). "
        "<b>Σ skill groups</b>: one team per domain; <b>Σ processes</b>: one team per "
        "process. The gap is the pooling gain.</p>")
    parts.append(f'<h2>Plot</h2><img alt="required agents per interval" '
                 f'src="data:image/png;base64,{img}">')

    header = ["interval"]
    for c in LIVE_CHANNELS:
        if _channel_groups(day, c):
            header += [f"{c} contacts", f"{c} Erl", f"{c} one queue", f"{c} scheduled"]
    rows = []
    for m in minutes:
        t = totals[m]
        row = [_hm(m)]
        for c in LIVE_CHANNELS:
            if _channel_groups(day, c):
                row += [f"{t[f'{c}_arrivals']:.1f}", f"{t[f'{c}_load']:.2f}",
                        f"{t[f'{c}_queue']:.0f}", f"{t[f'{c}_scheduled']:.0f}"]
        rows.append(row)
    parts.append("<h2>Per interval (one queue per channel)</h2>")
    parts.append(_table_html(header, rows))

    per_group = day.group_agents()
    groups = day.groups
    rows = [[_hm(m)] + [str(per_group[g].get(m, 0)) for g in groups] for m in minutes]
    rows.append(["peak"] + [str(max(per_group[g].values(), default=0)) for g in groups])
    parts.append("<h2>Per skill group (channel / domain)</h2>")
    label = day.domain_labels
    parts.append(_table_html(
        ["interval"] + [f"{g} ({label.get(g.split('/', 1)[1], '')})".replace(" ()", "")
                        for g in groups], rows, total_rows=1))

    parts.append("<h2>Per process</h2>")
    parts.append(_table_html(
        ["process", "channel", "domain", "contacts/day", "AHT s", "target", "peak agents"],
        [[s["process"], s["channel"], s["domain"], f"{s['arrivals']:.1f}", f"{s['aht_s']:.0f}",
          f"{s['sl_target']:.0%} in {s['within_s']:g} s", str(s["peak"])]
         for s in _process_summary(day)], left=3))
    parts.append("<p class=\"note\">Erlang C (or A) per interval, the fewest agents meeting "
                 "every target; see docs/staffing.md.</p></body></html>")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def write_reports(day: DayStaffing, out_dir: Path) -> dict[str, Path]:
    """CSV, PNG and HTML into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(day, out_dir / "staffing.csv")
    png = plot_day(day, out_dir / "staffing.png")
    page = write_html(day, out_dir / "staffing.html", png)
    return {"csv": csv_path, "png": png, "html": page}

