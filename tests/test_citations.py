"""Papers are cited by author and year everywhere, and every paper key resolves to the README's reference list."""

import re
from pathlib import Path

from keras_cxr.configs import list_recipes
from keras_cxr.models import get_spec, list_models
from keras_cxr.papers import PAPERS, paper_keys
from keras_cxr.reproduce import PROTOCOLS

ROOT = Path(__file__).resolve().parents[1]
# File numbers of the source collection and tracker numbers mean nothing to a reader.
OPAQUE = re.compile(r"\bseeds? 00[0-4]\b|\bissue #?\d+\b|\(00[0-4]\b|\b00[0-4]/00[0-4]\b|paper=\"00[0-4]", re.IGNORECASE)


def _texts():
    for pattern in ("keras_cxr/**/*.py", "keras_cxr/**/*.yaml", "benchmarks/*.py", "docs/*.md", "notebooks/*.ipynb",
                    "README.md"):
        yield from ROOT.glob(pattern)


def test_no_file_or_tracker_numbers_in_code_or_docs():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}"
             for path in _texts() if path.name != "test_citations.py"
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if OPAQUE.search(line)]
    assert not found, "cite papers by author and year:\n" + "\n".join(found)


def test_every_paper_key_resolves_to_the_readme_reference_list():
    readme = (ROOT / "README.md").read_text()
    references = readme.split("### References")[1].split("\n## ")[0]
    for paper in PAPERS.values():
        assert paper.reference in references, paper.key
        assert f"### {paper.cite.split(' (')[0]}" in readme, f"README needs a section for {paper.cite}"
    used = {key for name in list_models() for key in paper_keys(get_spec(name).paper)}
    assert set(PAPERS) <= used and set(PROTOCOLS) == set(PAPERS)
    recipes = set(list_recipes())
    for protocol in PROTOCOLS.values():
        assert {row.recipe for row in protocol.rows} <= recipes, protocol.paper
