"""Training recipes shipped with keras_cxr, one folder per paper (presets as data, as keras-hub does).

``li2023/convnext_at`` names ``keras_cxr/configs/li2023/convnext_at.yaml``; ``keras-cxr train
--config li2023/convnext_at`` and :func:`keras_cxr.training.load_config` take the name or any
YAML path. Each file's header lists what the paper says, what it leaves open and what the
recipe chose; ``paper.id`` resolves to the full reference in :mod:`keras_cxr.papers`.
"""

from pathlib import Path

RECIPE_DIR = Path(__file__).parent


def list_recipes():
    """Every shipped recipe name (``paper/network`` or a bare name), sorted."""
    return sorted(p.relative_to(RECIPE_DIR).with_suffix("").as_posix() for p in RECIPE_DIR.rglob("*.yaml"))


def recipe_path(name):
    """The YAML file of a shipped recipe; unknown names list the valid ones."""
    path = RECIPE_DIR / f"{str(name).removesuffix('.yaml')}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"No recipe named {name!r}. Shipped recipes: {', '.join(list_recipes())}")
    return path
