"""The weekly report as Markdown (text charts) and as one self-contained HTML page."""

from __future__ import annotations

from html import escape

from service.reports.charts import bar_chart, column_chart, line_chart, sparkline


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def _change(value) -> str:
    return "–" if value is None else (f"{value:+.2f}" if isinstance(value, float) else f"{value:+d}")


def to_markdown(r: dict) -> str:
    lines = [f"# Weekly report — {r['community']}, {r['week']}", "",
             f"{r['since'][:10]} to {r['until'][:10]} (UTC); generated {r['generated_at'][:16]}.",
             "", "## Key figures", "", "| | this week | week before | change |", "|---|---|---|---|"]
    lines += [f"| {k['name']} | {_fmt(k['value'])} | {_fmt(k['previous'])} | "
              f"{_change(k['change'])} |" for k in r["kpis"]]
    series = r["series"]
    lines += ["", f"Messages per day: `{sparkline([s['messages'] for s in series])}` "
              f"({', '.join(str(s['messages']) for s in series)})",
              f"Sentiment index per day: `{sparkline([s['sentiment_index'] for s in series])}`",
              "", "## Intent mix", ""]
    lines += [f"- {intent}: {n}" for intent, n in r["intent_mix"].items()]
    lines += ["", "## Top recurring issues", ""]
    if not r["recurring_issues"]:
        lines.append("No recurring issues this week.")
    for i, issue in enumerate(r["recurring_issues"], 1):
        mix = ", ".join(f"{k} {v}" for k, v in issue["intents"].items())
        lines += [f"{i}. **{issue['label']}** — {issue['issue_messages']} of {issue['messages']} "
                  f"messages are issues ({mix}); keywords: {', '.join(issue['keywords'][:6])}"]
        lines += [f"   > {q['text'][:200]}" for q in issue["quotes"]]
    lines += ["", "## Emerging and spiking topics", ""]
    lines += [f"- **{t['label']}** ({t['kind']}): {t['observed']} messages vs "
              f"{t['expected']} a week before, p = {t['p_value']:.1e}" for t in r["spiking"]] \
        or ["None this week."]
    lines += ["", "## Topics that turned negative", ""]
    lines += [f"- **{t['label']}**: negative share {t['negative_share']:.0%} "
              f"(was {t['negative_share_before']:.0%}), {t['messages']} messages"
              for t in r["turned_negative"]] or ["None this week."]
    lines += ["", "## Top topics", "", "| topic | messages | week before | change |",
              "|---|---|---|---|"]
    lines += [f"| {t['label']} | {t['messages']} | {t['previous_week']} | {t['change']:+d} |"
              for t in r["top_topics"]]
    lines += ["", "## How these are computed", ""]
    lines += [f"- {name}: {rule}" for name, rule in r["rules"].items()]
    return "\n".join(lines) + "\n"


def charts(r: dict) -> list[str]:
    series = r["series"]
    return [
        column_chart([(s["day"], s["messages"]) for s in series], "Messages per day"),
        line_chart([(s["day"], s["sentiment_index"]) for s in series],
                   "Sentiment index per day (positive − negative share)"),
        bar_chart([(t["label"], t["messages"]) for t in r["top_topics"][:8]],
                  "Top topics this week (messages)"),
    ]


def report_body(r: dict) -> str:
    """The report's HTML without a page around it (the dashboard embeds it)."""
    kpis = "".join(
        f"<tr><th>{escape(k['name'])}</th><td>{_fmt(k['value'])}</td>"
        f"<td>{_fmt(k['previous'])}</td><td>{_change(k['change'])}</td></tr>" for k in r["kpis"])
    issues = "".join(
        f"<li><strong>{escape(i['label'])}</strong> — {i['issue_messages']} of {i['messages']} "
        f"messages are issues<br><small>{escape(', '.join(i['keywords'][:6]))}</small>"
        + "".join(f"<blockquote lang=\"{escape(q['lang'])}\">{escape(q['text'][:300])}"
                  "</blockquote>" for q in i["quotes"]) + "</li>"
        for i in r["recurring_issues"]) or "<li>No recurring issues this week.</li>"
    spiking = "".join(
        f"<li><strong>{escape(t['label'])}</strong> ({t['kind']}): {t['observed']} messages vs "
        f"{t['expected']} a week before, p = {t['p_value']:.1e}</li>"
        for t in r["spiking"]) or "<li>None this week.</li>"
    negative = "".join(
        f"<li><strong>{escape(t['label'])}</strong>: negative share {t['negative_share']:.0%} "
        f"(was {t['negative_share_before']:.0%})</li>"
        for t in r["turned_negative"]) or "<li>None this week.</li>"
    intents = "".join(f"<li>{escape(k)}: {v}</li>" for k, v in r["intent_mix"].items())
    rules = "".join(f"<li><em>{escape(k)}</em>: {escape(v)}</li>" for k, v in r["rules"].items())
    return (
        f'<section class="report" data-week="{escape(r["week"])}">'
        f"<h1>Weekly report — {escape(r['community'])}, {escape(r['week'])}</h1>"
        f"<p>{r['since'][:10]} to {r['until'][:10]} (UTC)</p>"
        "<h2>Key figures</h2><table class=\"kpis\"><tr><th></th><th>this week</th>"
        f"<th>week before</th><th>change</th></tr>{kpis}</table>"
        f"<div class=\"charts\">{''.join(charts(r))}</div>"
        f"<h2>Top recurring issues</h2><ol>{issues}</ol>"
        f"<h2>Emerging and spiking topics</h2><ul>{spiking}</ul>"
        f"<h2>Topics that turned negative</h2><ul>{negative}</ul>"
        f"<h2>Intent mix</h2><ul>{intents}</ul>"
        f"<h2>How these are computed</h2><ul class=\"rules\">{rules}</ul></section>")


STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:1.5em auto;padding:0 1em;
color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left}blockquote{margin:.3em 0 .3em 1em;padding-left:.6em;border-left:3px solid #ccc;
color:#444}svg{display:block;margin:.8em 0}"""


def to_html(r: dict) -> str:
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Weekly report — "
            f"{escape(r['community'])} {escape(r['week'])}</title><style>{STYLE}</style></head>"
            f"<body>{report_body(r)}</body></html>")
