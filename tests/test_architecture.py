"""The shape of the code: which package may import which (docs/architecture.md).

- `veille/` is the core: it imports no stage and not the composition root;
- `ingest/`, `processors/`, `sinks/` are the stages: each imports the core and itself only;
- `pipeline/` is the composition root: it imports the stages and the core; nothing imports it.

Imports are read with `ast` from every module, those inside functions included, so an import
hidden in a function body (the usual way around a rule like this) counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = "veille"
STAGES = ("ingest", "processors", "sinks")
ROOT = "pipeline"
PACKAGES = (CORE, *STAGES, ROOT)

# What each package may import among the project's packages (itself always).
ALLOWED: dict[str, frozenset[str]] = {
    CORE: frozenset(),
    **{stage: frozenset({CORE}) for stage in STAGES},
    ROOT: frozenset({CORE, *STAGES}),
}


def imported_packages(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level project package) of every import in the module at `path`, a module of
    `package`; relative imports resolve to `package` itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package] if node.level else [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.append((node.lineno, top))
    return found


def violations(repo: Path) -> list[str]:
    """Every import across the packages' boundaries that docs/architecture.md forbids, as
    `path:line: package imports other`."""
    out = []
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*.py")):
            for line, other in imported_packages(path, package):
                if other != package and other not in ALLOWED[package]:
                    where = path.relative_to(repo)
                    out.append(f"{where}:{line}: {package} imports {other}")
    return out


def test_packages_import_only_downwards() -> None:
    for package in PACKAGES:
        assert (REPO / package / "__init__.py").is_file(), package
    assert violations(REPO) == []


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("ingest", "from sinks.queries import run\n", "ingest imports sinks"),
        ("sinks", "def f():\n    import processors.enrich\n", "sinks imports processors"),
        ("processors", "from pipeline.cli import app\n", "processors imports pipeline"),
        ("veille", "from ingest.base import Source\n", "veille imports ingest"),
        ("veille", "from pipeline import embedded\n", "veille imports pipeline"),
    ],
)
def test_a_forbidden_import_is_found(
    tmp_path: Path, package: str, source: str, expected: str
) -> None:
    for name in PACKAGES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text('"""x"""\n')
    (tmp_path / package / "bad.py").write_text(source)
    (tmp_path / "pipeline" / "ok.py").write_text("import ingest\nfrom sinks import x\n")
    (tmp_path / package / "rel.py").write_text("from . import bad\n")
    found = violations(tmp_path)
    assert len(found) == 1 and found[0].endswith(expected), found


def test_every_module_imports_first_without_a_cycle() -> None:
    """Each module of the project imports on its own, as the first of the project's modules a
    process loads (a stage command, a probe script): an import cycle that only shows from one
    entry point fails here, whichever module it starts from."""
    script = (
        "import importlib, sys\n"
        "packages = set(sys.argv[1].split(','))\n"
        "failed = []\n"
        "for name in sys.argv[2:]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in packages]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as e:\n"
        "        failed.append(f'{name}: {type(e).__name__}: {e}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    modules = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    proc = subprocess.run(
        [sys.executable, "-c", script, ",".join(PACKAGES), *modules],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
