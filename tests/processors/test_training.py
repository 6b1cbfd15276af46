"""processors.enrich.training: where it finds the data, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import processors
from processors.enrich import training


def test_default_data_dir_is_beside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEILLE_XLMT_DIR", raising=False)
    repo = Path(processors.__file__).resolve().parents[1]
    assert (repo / "pyproject.toml").is_file()
    assert training.default_data_dir() == repo.parent / "shared" / "data" / "xlmt"
    monkeypatch.setenv("VEILLE_XLMT_DIR", "/somewhere/xlmt")
    assert training.default_data_dir() == Path("/somewhere/xlmt")


def test_importing_the_package_needs_no_training_extra() -> None:
    """scikit-learn (the `train` extra) is imported only when training runs; scipy is a core
    dependency (the batch enrichers' sparse products)."""
    code = (
        "import sys, processors.enrich.training as t; "
        "assert callable(t.train_fast) and callable(t.evaluate); "
        "print(sorted(m for m in ('sklearn',) if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_has_no_command_line_of_its_own() -> None:
    folder = Path(training.__file__).parent
    assert not (folder / "__main__.py").exists()
    for module in folder.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert "argparse" not in text and "__main__" not in text, module
