"""The installed ``keras-cxr`` console script: help and the model table."""

import json
import shutil
import subprocess
import sys

import pytest

from keras_cxr.cli import COMMANDS, main


def _cli():
    exe = shutil.which("keras-cxr")
    return [exe] if exe else [sys.executable, "-m", "keras_cxr.cli"]


def test_help_lists_every_subcommand():
    out = subprocess.run(_cli() + ["--help"], capture_output=True, text=True, check=True).stdout
    for command in COMMANDS:
        assert command in out


@pytest.mark.slow  # builds all 18 networks at full size (25 s); zoo_test builds each one small in the default suite
def test_models_prints_every_model_with_params_and_input_size():
    from keras_cxr.models import list_models

    result = subprocess.run(
        _cli() + ["models", "--json", "--num-classes", "3"], capture_output=True, text=True, check=True
    )
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(list_models())
    assert rows["vgg80_multibranch"]["params"] == 63_148_835
    assert rows["vgg80_multibranch"]["input_shape"] == [80, 80, 3]
    assert rows["convnext_at"]["input_shape"] == [224, 224, 3]
    assert 4.2 < rows["convnext_tiny"]["gmacs"] < 4.7


def test_models_table_text(capsys):
    assert main(["models", "resnet18", "vgg80_multibranch"]) == 0
    out = capsys.readouterr().out
    assert "resnet18" in out and "80x80x3" in out and "63,150,884" in out


def test_unknown_model_is_a_clean_error(capsys):
    assert main(["models", "not_a_model"]) == 2
    assert "Valid choices" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--version"]])
def test_version(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "keras-cxr" in capsys.readouterr().out
