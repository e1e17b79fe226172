"""Outputs of a day of staffing: terminal tables, a CSV, and a self-contained HTML page.

Reports are in French unless English is asked for (``lang="en"``); the chart
is an SVG drawn by ``simulations.report_svg``, embedded in the HTML page.
The CSV keeps the column codes of :data:`CSV_COLUMNS` and is written as
French Excel reads it (``;``, decimal comma, BOM) when ``csv_locale="fr"``.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from simulations.forecast import LIVE_CHANNELS, DayStaffing, StaffRow
from simulations.i18n import N_, translations

__all__ = ["CSV_COLUMNS", "WORDS", "day_tables", "interval_rows", "process_table",
           "targets_line", "write_csv", "write_html", "write_reports"]

CSV_COLUMNS = (
    "level", "interval", "channel", "domain", "process", "arrivals", "aht_s", "load_erl",
    "sl_target", "within_s", "agents", "scheduled", "service_level", "asa_s", "occupancy",
    "p_wait", "p_abandon",
)

WORDS: dict[str, str] = {
    'phone': N_('Phone'),
    'counter': N_('Counter'),
    'phone_n': N_('calls'),
    'counter_n': N_('visits'),
    'time': N_('time'),
    'title': N_('Staffing of the day'),
    'per_interval': N_("Required agents per {m} min (each channel's processes in one queue)"),
    'groups': N_('Per skill group (channel / domain), each with its own team'),
    'processes': N_('Per process, each with its own team'),
    'process': N_('process'),
    'channel': N_('channel'),
    'domain': N_('domain'),
    'contacts': N_('contacts'),
    'agents': N_('agents'),
    'sched': N_('sched.'),
    'scheduled': N_('scheduled'),
    'peak': N_('peak'),
    'day': N_('day'),
    'all': N_('all'),
    'aht': N_('AHT s'),
    'target': N_('target'),
    'peak_agents': N_('peak agents'),
    'agent_hours': N_('agent-hours'),
    'group': N_('group'),
    'sl': N_('SL %'),
    'asa': N_('ASA s'),
    'aband': N_('ab. %'),
    'aband_long': N_('abandons %'),
    'occ': N_('occ. %'),
    'erl': N_('Erl'),
    'in': N_('in'),
    'sum_groups': N_('Σ skill groups'),
    'one_queue': N_('one queue'),
    'sum_processes': N_('Σ processes'),
    'shrink_line': N_('one queue + shrinkage'),
    'legend': N_("SL: share of offered contacts answered within the target (Erlang A: an abandon counts as missed); ASA: mean wait of the answered; ab.: share of offered contacts that hang up; occ.: share of the agents' time handling."),
    't_options': N_('service level from the options'),
    't_catalogue': N_('service level per process (catalogue)'),
    't_defaults': N_('default service level'),
    'patience': N_('Erlang A, mean patience'),
    'erlang_c': N_('Erlang C'),
    'shrinkage': N_('shrinkage'),
    'max_ab': N_('abandons ≤'),
    'max_occ': N_('occupancy ≤'),
    'max_asa': N_('ASA ≤'),
    'forecast': N_('Forecast'),
    'summary': N_('Summary'),
    'plot': N_('Chart'),
    'intervals': N_('intervals of'),
    'contacts_per': N_('contacts / {m} min'),
    'stacked': N_('required agents per skill group (stacked)'),
    'achieved': N_('Service level achieved (one queue) and target'),
    'share': N_('%'),
    'target_of': N_('target'),
    'abandon_of': N_('abandons'),
    'note_pool': N_('One queue: every process of the channel pooled, as the single front desk routes them. Σ skill groups: one team per domain; Σ processes: one team per process. The gap is the pooling gain.'),
    'note_model': N_('Erlang C (or A) per interval, the fewest agents meeting every target; see docs/staffing.md.'),
}
"""The reports' words: English ids, translated by the planner's catalogue (``simulations.i18n``)."""


def words(lang: str) -> dict[str, str]:
    """The report's words in ``lang`` (``fr`` or ``en``)."""
    catalogue = translations("en" if lang == "en" else "fr")
    return {key: catalogue.gettext(text) for key, text in WORDS.items()}


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _num(value: float, digits: int, lang: str) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def targets_line(day: DayStaffing, lang: str = "fr") -> str:
    """The targets and model of the day, in one line."""
    w = words(lang)
    opts = day.options
    parts = [w[f"t_{day.target_source}"] if day.target_source else w["t_defaults"]]
    if opts.get("asa_s") is not None:
        parts.append(f"{w['max_asa']} {opts['asa_s']:g} s")
    if opts.get("max_occupancy") is not None:
        parts.append(f"{w['max_occ']} {_num(100 * opts['max_occupancy'], 0, lang)} %")
    patience = opts.get("patience_s") or {}
    if patience:
        per = ", ".join(f"{w[c].lower()} {s:g} s" for c, s in patience.items())
        parts.append(f"{w['patience']} {per}")
        if opts.get("max_abandon") is not None:
            parts.append(f"{w['max_ab']} {_num(100 * opts['max_abandon'], 0, lang)} %")
    without = [w[c].lower() for c in LIVE_CHANNELS if c not in patience]
    if without:
        parts.append(w["erlang_c"] + (f" ({', '.join(without)})" if patience else ""))
    parts.append(f"{w['shrinkage']} {_num(100 * opts.get('shrinkage', 0.0), 0, lang)} %")
    return (" ; " if lang == "fr" else "; ").join(parts)


def channels_of(day: DayStaffing) -> list[str]:
    """The live channels the forecast has, phone first."""
    present = {r.channel for r in day.by_channel}
    return [c for c in LIVE_CHANNELS if c in present]


def interval_rows(day: DayStaffing) -> dict[int, dict[str, StaffRow]]:
    """Interval start -> channel -> its one-queue row."""
    out: dict[int, dict[str, StaffRow]] = {m: {} for m in day.minutes}
    for r in day.by_channel:
        out[r.minute][r.channel] = r
    return out


def _erlang_a(day: DayStaffing, channel: str) -> bool:
    return channel in (day.options.get("patience_s") or {})


def day_tables(day: DayStaffing, lang: str = "fr") -> list[Table]:
    """The per-interval table (one queue per channel), then the per-skill-group table.

    Both fit in 100 columns: short headers, explained in the caption.
    """
    w = words(lang)
    totals = day.totals()
    hours = day.forecast.interval_min / 60.0
    channels = channels_of(day)
    per = interval_rows(day)
    table = Table(title=w["per_interval"].format(m=day.forecast.interval_min),
                  caption=targets_line(day, lang) + "\n" + w["legend"], box=box.SIMPLE_HEAD,
                  pad_edge=False, caption_justify="left", collapse_padding=True)
    table.add_column(w["time"], no_wrap=True)
    for c in channels:
        table.add_column(f"{w[c]}\n{w[c + '_n']}", justify="right", no_wrap=True)
        for key in ("erl", "agents", "sl") + (("aband",) if _erlang_a(day, c) else ()):
            table.add_column(f"\n{w[key]}", justify="right", no_wrap=True,
                             style="bold" if key == "agents" else None)
    table.add_column(f"{w['all']}\n{w['agents']}", justify="right", style="bold", no_wrap=True)
    table.add_column(f"\n{w['sched']}", justify="right", style="bold cyan", no_wrap=True)
    for m in day.minutes:
        cells = [_hm(m)]
        for c in channels:
            r = per[m].get(c)
            if r is None:
                cells += ["", "", "0", ""] + ([""] if _erlang_a(day, c) else [])
                continue
            cells += [_num(r.arrivals, 1, lang), _num(r.load_erl, 2, lang), str(r.agents),
                      _num(100 * r.service_level, 1, lang)]
            if _erlang_a(day, c):
                cells.append(_num(100 * r.p_abandon, 1, lang))
        cells += [f"{totals[m]['agents']:.0f}", f"{totals[m]['scheduled']:.0f}"]
        table.add_row(*cells)
    table.add_section()
    for label, agg in ((w["peak"], max), (w["day"], sum)):
        cells = [label]
        for c in channels:
            arr = [totals[m][f"{c}_arrivals"] for m in day.minutes]
            agents = [totals[m][f"{c}_queue"] for m in day.minutes]
            cells += [_num(agg(arr), 1 if agg is max else 0, lang), "",
                      f"{agg(agents):.0f}" if agg is max else f"{sum(agents) * hours:.0f}h", ""]
            cells += [""] if _erlang_a(day, c) else []
        for key in ("agents", "scheduled"):
            series = [totals[m][key] for m in day.minutes]
            cells.append(f"{max(series):.0f}" if agg is max else f"{sum(series) * hours:.0f}h")
        table.add_row(*cells)

    groups = Table(title=w["groups"], box=box.SIMPLE_HEAD, pad_edge=False)
    for i, name in enumerate((w["group"], w["contacts"], w["peak_agents"], w["agent_hours"])):
        groups.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    per_group = day.group_agents()
    arrivals: dict[str, float] = {}
    for r in day.by_group:
        arrivals[r.group] = arrivals.get(r.group, 0.0) + r.arrivals
    for g in day.groups:
        vals = per_group[g].values()
        groups.add_row(_group_label(day, g, lang, width=44), _num(arrivals[g], 1, lang),
                       str(max(vals, default=0)), _num(sum(vals) * hours, 1, lang))
    groups.add_section()
    for c in channels:
        for key, label in (("groups", w["sum_groups"]), ("queue", w["one_queue"]),
                           ("processes", w["sum_processes"])):
            series = [totals[m][f"{c}_{key}"] for m in day.minutes]
            groups.add_row(f"{w[c]} : {label}" if lang == "fr" else f"{w[c]}: {label}", "",
                           f"{max(series):.0f}", _num(sum(series) * hours, 1, lang))
    return [table, groups]


def _group_label(day: DayStaffing, group: str, lang: str, width: int = 0) -> str:
    """``Téléphone / État civil et titres d'identité``: the domain's label, not its code."""
    channel, _, domain = group.partition("/")
    label = day.domain_labels.get(domain, domain)
    text = f"{words(lang)[channel]} / {label}"
    return text if not width or len(text) <= width else text[: width - 1] + "…"


def process_summary(day: DayStaffing) -> list[dict[str, Any]]:
    """Per process and channel: contacts, AHT, target and peak agents when served alone."""
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


def process_table(day: DayStaffing, lang: str = "fr") -> Table:
    """Per process and channel: contacts of the day, AHT, target and peak agents if served alone."""
    w = words(lang)
    table = Table(title=w["processes"], box=box.SIMPLE_HEAD, pad_edge=False)
    names = (w["process"], w["channel"], w["contacts"], w["aht"], w["target"], w["peak_agents"])
    for i, name in enumerate(names):
        table.add_column(name, justify="left" if i < 2 else "right", no_wrap=True)
    for s in process_summary(day):
        table.add_row(s["process"], w[s["channel"]], _num(s["arrivals"], 1, lang),
                      f"{s['aht_s']:.0f}", f"{s['sl_target']:.0%} {w['in']} {s['within_s']:g} s",
                      str(s["peak"]))
    return table


def _csv_row(level: str, r: StaffRow, comma: bool) -> list[str]:
    values = [
        level, r.start, r.channel, r.domain, r.process, f"{r.arrivals:.4f}", f"{r.aht_s:.1f}",
        f"{r.load_erl:.4f}", f"{r.sl_target:.4f}", f"{r.within_s:g}", str(r.agents),
        str(r.scheduled), f"{r.service_level:.6f}", f"{r.asa_s:.3f}", f"{r.occupancy:.4f}",
        f"{r.p_wait:.6f}", f"{r.p_abandon:.6f}",
    ]
    if comma:
        values[5:] = [v.replace(".", ",") for v in values[5:]]
    return values


def write_csv(day: DayStaffing, path: Path, csv_locale: str = "en") -> Path:
    """Every cell at every level: ``process``, ``group`` (channel x domain), ``queue`` (channel).

    ``csv_locale="fr"``: ``;`` separators, decimal commas and a BOM, as French Excel opens it.
    """
    french = csv_locale == "fr"
    with path.open("w", newline="", encoding="utf-8-sig" if french else "utf-8") as fh:
        w = csv.writer(fh, delimiter=";" if french else ",")
        w.writerow(CSV_COLUMNS)
        for level, rows in (("queue", day.by_channel), ("group", day.by_group),
                            ("process", day.by_process)):
            for r in sorted(rows, key=lambda r: (r.minute, r.channel, r.domain, r.process)):
                w.writerow(_csv_row(level, r, french))
    return path


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f0f3f7}td.l,th.l{text-align:left}
tr.total td{font-weight:bold;background:#fafafa}
.chart svg{max-width:100%;height:auto;border:1px solid #ddd}
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


def write_html(day: DayStaffing, path: Path, chart: Path, lang: str = "fr") -> Path:
    """A single HTML file (the SVG chart embedded): summary, chart and tables."""
    w = words(lang)
    esc = html.escape
    totals = day.totals()
    minutes = day.minutes
    step = day.forecast.interval_min
    hours = step / 60.0
    channels = channels_of(day)
    svg = chart.read_text(encoding="utf-8")
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{esc(w['title'])}</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(w['title'])}</h1>",
        (f"<p>{esc(w['forecast'])} <code>{esc(day.forecast.source)}</code>, "
         f"{len(minutes)} {esc(w['intervals'])} {step} min "
         f"({_hm(minutes[0])}–{_hm(minutes[-1] + step)}).<br>"
         f"{esc(targets_line(day, lang))}.</p>"),
    ]
    summary_rows = []
    for c in channels:
        summary_rows.append([
            w[c], _num(sum(totals[m][f"{c}_arrivals"] for m in minutes), 0, lang),
            *(f"{max(totals[m][f'{c}_{k}'] for m in minutes):.0f}"
              for k in ("queue", "scheduled", "groups", "processes")),
            *(_num(sum(totals[m][f"{c}_{k}"] for m in minutes) * hours, 1, lang)
              for k in ("queue", "scheduled")),
        ])
    parts.append(f"<h2>{esc(w['summary'])}</h2>")
    parts.append(_table_html(
        [w["channel"], w["contacts"], f"{w['peak_agents']} ({w['one_queue']})",
         f"{w['peak']} {w['scheduled']}", f"{w['peak']} {w['sum_groups']}",
         f"{w['peak']} {w['sum_processes']}", w["agent_hours"],
         f"{w['agent_hours']} ({w['scheduled']})"], summary_rows))
    parts.append(f'<p class="note">{esc(w["note_pool"])}</p>')
    parts.append(f'<h2>{esc(w["plot"])}</h2><div class="chart">{svg}</div>')

    header = [w["time"]]
    for c in channels:
        header += [f"{w[c]} {w['contacts']}", f"{w[c]} {w['erl']}", f"{w[c]} {w['agents']}",
                   f"{w[c]} {w['scheduled']}", f"{w[c]} {w['target']}", f"{w[c]} {w['sl']}",
                   f"{w[c]} {w['asa']}", f"{w[c]} {w['aband_long']}", f"{w[c]} {w['occ']}"]
    per = interval_rows(day)
    rows = []
    for m in minutes:
        row = [_hm(m)]
        for c in channels:
            r = per[m].get(c)
            if r is None:
                row += ["", "", "0", "0", "", "", "", "", ""]
                continue
            row += [_num(r.arrivals, 1, lang), _num(r.load_erl, 2, lang), str(r.agents),
                    str(r.scheduled), f"{r.sl_target:.0%} {w['in']} {r.within_s:g} s",
                    _num(100 * r.service_level, 1, lang), _num(r.asa_s, 1, lang),
                    _num(100 * r.p_abandon, 1, lang) if _erlang_a(day, c) else "—",
                    _num(100 * r.occupancy, 1, lang)]
        rows.append(row)
    parts.append(f"<h2>{esc(w['per_interval'].format(m=step))}</h2>")
    parts.append(f'<p class="note">{esc(w["legend"])}</p>')
    parts.append(_table_html(header, rows))

    per_group = day.group_agents()
    groups = day.groups
    rows = [[_hm(m)] + [str(per_group[g].get(m, 0)) for g in groups] for m in minutes]
    rows.append([w["peak"]] + [str(max(per_group[g].values(), default=0)) for g in groups])
    parts.append(f"<h2>{esc(w['groups'])}</h2>")
    parts.append(_table_html([w["time"]] + [_group_label(day, g, lang) for g in groups], rows,
                             total_rows=1))

    parts.append(f"<h2>{esc(w['processes'])}</h2>")
    parts.append(_table_html(
        [w["process"], w["channel"], w["domain"], w["contacts"], w["aht"], w["target"],
         w["peak_agents"]],
        [[s["process"], w[s["channel"]], day.domain_labels.get(s["domain"], s["domain"]),
          _num(s["arrivals"], 1, lang), f"{s['aht_s']:.0f}",
          f"{s['sl_target']:.0%} {w['in']} {s['within_s']:g} s", str(s["peak"])]
         for s in process_summary(day)], left=3))
    parts.append(f'<p class="note">{esc(w["note_model"])}</p></body></html>')
    path.write_text("".join(parts), encoding="utf-8")
    return path


def write_reports(day: DayStaffing, out_dir: Path, lang: str = "fr",
                  csv_locale: str = "en") -> dict[str, Path]:
    """CSV, SVG and HTML into ``out_dir`` (created if needed)."""
    from simulations.report_svg import write_svg

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(day, out_dir / "staffing.csv", csv_locale)
    chart = write_svg(day, out_dir / "staffing.svg", lang)
    page = write_html(day, out_dir / "staffing.html", chart, lang)
    return {"csv": csv_path, "svg": chart, "html": page}
