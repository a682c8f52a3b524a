"""The paper's tables in the paper's layout: the measured number, the reported one and the difference."""

import math


def _format(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def cell(column, reported, measured):
    """``measured / paper (difference)``; ``not run / paper`` for a row not run; ``-`` where a number is missing."""
    paper = (reported or {}).get(column.title)
    if measured is None:
        return f"not run / {_format(paper, column.digits)}"
    value = measured.get(column.metric)
    value = value * column.scale if value is not None else None
    text = f"{_format(value, column.digits)} / {_format(paper, column.digits)}"
    if value is not None and paper is not None:
        diff = value - paper
        text += f" ({'+' if diff >= 0 else ''}{_format(diff, column.digits)})"
    return text


def render_table(table, measured):
    """Markdown for one :class:`~keras_cxr.reproduce.protocols.Table`; ``measured``: {row: flat metrics}."""
    header = ["Model"] + [c.title for c in table.columns]
    lines = [f"### {table.title}", "", "Each cell: measured here / reported in the paper (difference).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        cells = [row] + [cell(column, table.reported.get(row), measured.get(row)) for column in table.columns]
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
