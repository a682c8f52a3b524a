"""Is the label predictable from where an image came from? Label x group tables with Cramér's V.

In public CXR sets the class often equals the source: the pediatric Kermany
images supply pneumonia and normals, adult hospitals supply COVID-19. A model
can then score well by telling children from adults, or one hospital's
scanner from another's (DeGrave et al. 2021). Cramér's V (SciPy) measures how
much the source alone says about the label: 0 none, 1 the label is the source.
"""

import numpy as np
from scipy.stats import chi2_contingency
from scipy.stats.contingency import association

# Cramér's V from which a table is called a confound (Cohen's "large" association for 1 degree of freedom).
STRONG_V = 0.5
# A group whose images are at least this share one label: the group alone predicts it.
PURE_SHARE = 0.9


def confounding_table(labels, groups, column):
    """Label x group counts with Cramér's V, the chi-squared p-value and the groups that give away the label.

    ``labels`` and ``groups``: one value per image. Rows missing the group
    value count as the group ``"(missing)"``. V is ``None`` where the table
    has a single label or group (nothing to associate).
    """
    groups = ["(missing)" if g in (None, "") else str(g) for g in groups]
    if len(groups) != len(labels):
        raise ValueError(f"{len(groups)} {column} values for {len(labels)} labels")
    label_names, group_names = sorted(set(labels)), sorted(set(groups))
    counts = np.zeros((len(label_names), len(group_names)), int)
    for label, group in zip(labels, groups):
        counts[label_names.index(label), group_names.index(group)] += 1
    v = p_value = None
    if min(counts.shape) > 1:
        v = float(association(counts, method="cramer"))
        p_value = float(chi2_contingency(counts).pvalue)
    return {"column": column, "labels": label_names, "groups": group_names, "counts": counts.tolist(),
            "cramers_v": v, "p_value": p_value, "confounded": v is not None and v >= STRONG_V,
            "label_giving_groups": _label_giving_groups(counts, label_names, group_names),
            "group_bound_labels": _group_bound_labels(counts, label_names, group_names)}


def _label_giving_groups(counts, label_names, group_names):
    """``{group: (label, share)}`` for groups where one label has at least PURE_SHARE of the images."""
    found = {}
    for j, group in enumerate(group_names):
        column = counts[:, j]
        if column.sum() and column.max() / column.sum() >= PURE_SHARE:
            found[group] = {"label": label_names[int(column.argmax())], "share": float(column.max() / column.sum()),
                            "images": int(column.sum())}
    return found


def _group_bound_labels(counts, label_names, group_names):
    """``{label: (group, share)}`` for labels with at least PURE_SHARE of their images in one group.

    The other direction of a shortcut: pediatric images come in every class,
    yet if COVID-19 images are all adult, "adult" is a cue for COVID-19.
    Only with two groups or more (one group holds every label).
    """
    found = {}
    if len(group_names) < 2:
        return found
    for i, label in enumerate(label_names):
        row = counts[i]
        if row.sum() and row.max() / row.sum() >= PURE_SHARE:
            found[label] = {"group": group_names[int(row.argmax())], "share": float(row.max() / row.sum()),
                            "images": int(row.sum())}
    return found


def _percent(share):
    """90%, 99.7% (291 of 292 is not 100%)."""
    return f"{share:.0%}" if round(share, 2) == round(share, 3) else f"{share:.1%}"


def describe(table):
    """One sentence on a table: V, and which groups give the label away."""
    if table["cramers_v"] is None:
        return f"label x {table['column']}: a single {'label' if len(table['labels']) < 2 else 'group'}; no association to measure"
    verdict = "CONFOUNDED" if table["confounded"] else "weak" if table["cramers_v"] < 0.3 else "moderate"
    giving = "; ".join(f"{group}: {_percent(entry['share'])} {entry['label']} ({entry['images']} images)"
                       for group, entry in table["label_giving_groups"].items())
    bound = "; ".join(f"{label}: {_percent(entry['share'])} {entry['group']} ({entry['images']} images)"
                      for label, entry in table["group_bound_labels"].items())
    return (f"label x {table['column']}: Cramér's V {table['cramers_v']:.2f} ({verdict})"
            + (f"; groups that give the label away: {giving}" if giving else "")
            + (f"; labels from one group: {bound}" if bound else ""))
