"""``explain``'s ``report.md`` and ``report.html``: the pointing game, the galleries, and every overlay to browse.

The overlays stay the PNG files ``explain`` wrote (the page links them by
relative path, so a folder of thousands of explanations makes a small page);
the galleries and figures are embedded.
"""

from pathlib import Path

from keras_cxr.utils.outputs import write_text_atomic


def write_explain_report(summary, out_dir):
    """``out_dir/report.md`` and ``out_dir/report.html`` from ``summary.json``'s content; returns the page's path."""
    from keras_cxr.pages.report_page import write_report_page

    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "report.md", "\n".join(_markdown(summary, out_dir)) + "\n")
    return write_report_page(out_dir / "report.md", f"Explanations of {summary['model']}",
                             headline=_headline(summary), browser=_browser(summary, out_dir),
                             notes=[f"{len(summary['errors'])} file(s) could not be read; listed at the end."]
                             if summary["errors"] else ())


def _markdown(summary, out_dir):
    lines = [f"# Explanations of `{summary['model']}`", "",
             f"{summary['images']} image(s), methods: {', '.join(summary['methods'])}. Each overlay shows the X-ray and "
             "the map of the explained class (the predicted one unless `--class` chose another); raw maps are the "
             "`.npy` files beside the overlays.", ""]
    pointing = summary.get("pointing_game")
    if pointing:
        lines += ["## Pointing game against the lesion masks", "",
                  "A hit: the map's maximum falls inside the (slightly dilated) lesion mask. Chance is the mask's "
                  "share of the image.", "",
                  "| method | lesion images | hit rate | chance (mask share) | map energy inside lesion |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {m} | {s['images']} | {s['hit_rate']:.0%} | {s['mask_share']:.0%} | {s['energy_inside']:.0%} |"
                  for m, s in pointing.items()]
        lines.append("")
    for method, path in summary["galleries"].items():
        lines += [f"## {method}: the first images", "", f"![{method} gallery]({_relative(path, out_dir)})", ""]
    if summary["errors"]:
        lines += ["## Unreadable files", ""] + [f"- `{e['path']}`: {e['error']}" for e in summary["errors"]] + [""]
    lines.append("Every record: `summary.json`.")
    return lines


def _headline(summary):
    tiles = [{"label": "images", "value": f"{summary['images']:,}", "detail": ", ".join(summary["methods"])}]
    for method, s in (summary.get("pointing_game") or {}).items():
        tiles.append({"label": f"{method} pointing game", "value": f"{s['hit_rate']:.0%}",
                      "detail": f"chance {s['mask_share']:.0%}, {s['images']} lesion images"})
    return tiles


def _browser(summary, out_dir):
    """Every overlay as a browser item (linked, not embedded), filterable by predicted class and method."""
    records = summary["explanations"]
    if not records:
        return None
    items = []
    for index, r in enumerate(records):
        overlay = _relative(r["overlay"], out_dir)
        items.append({"index": index, "name": Path(r["path"]).name, "path": r["path"], "true": None,
                      "predicted": r["predicted"], "confidence": round(float(r["probability"]), 4), "correct": None,
                      "group": r["method"], "probabilities": None, "thumbnail": overlay, "image": overlay,
                      "overlay": None})
    classes = sorted({r["predicted"] for r in records})
    return {"items": items, "shown": len(items), "total": len(items), "misclassified": None, "classes": classes,
            "groups": list(summary["methods"]), "group_by": "method", "gradcam_note": None, "has_truth": False}


def _relative(path, out_dir):
    path = Path(path)
    try:
        return path.resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
