"""The paper's tables in the paper's layout: the reported number, the measured one and the difference."""

import math


def _format(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _cell(column, reported, measured):
    paper = reported.get(column.title) if reported else None
    value = measured.get(column.metric) if measured else None
    value = value * column.scale if value is not None else None
    diff = value - paper if value is not None and paper is not None else None
    signed = "-" if diff is None else ("+" if diff >= 0 else "") + _format(diff, column.digits)
    return [_format(paper, column.digits), _format(value, column.digits), signed]


def render_table(table, measured):
    """Markdown for one :class:`~keras_cxr.reproduce.protocols.Table`; ``measured``: {row: flat metrics}."""
    header = ["Model"] + [f"{c.title}: {part}" for c in table.columns for part in ("paper", "here", "diff")]
    lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        result = measured.get(row)
        cells = [row]
        for column in table.columns:
            cells += _cell(column, table.reported.get(row, {}), result) if result else \
                [_format(table.reported.get(row, {}).get(column.title), column.digits), "not run", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_report(protocol, paper, results, quick, data_summary):
    """The whole ``reproduce.md``: what was run, each table, the protocol's notes."""
    measured = {name: r["metrics"] for name, r in results.items()}
    lines = [f"# Reproducing {paper.cite}", "", paper.reference, "",
             f"Data: {data_summary}. Scored on the **{protocol.score_split}** split.", ""]
    if quick:
        lines += ["**--quick run**: 1 epoch, small inputs, a few images per class, no pretrained weights. "
                  "It checks that the protocol runs end to end; its numbers say nothing about the paper.", ""]
    lines += [render_table(table, measured) for table in protocol.tables]
    lines += ["## Rows", "", "| Model | recipe | overrides | images scored | run |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | `{r['recipe']}` | {' '.join(f'`{o}`' for o in r['overrides']) or '-'} | "
                     f"{r['metrics']['num_images']} | `{r['run_dir']}` |")
    lines += ["", "## Protocol notes", ""] + [f"- {note}" for note in protocol.notes]
    return "\n".join(lines) + "\n"
