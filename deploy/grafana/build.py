"""Builds veille's Grafana dashboards (`deploy/grafana/dashboards/*.json`) from their description.

Each dashboard is a module of `veille_dashboards/` (overview, customer care, crisis and alerts,
audience, pipeline health) on the builder of `veille_dashboards/builder.py`. Panels either name
a trend query of `sinks/queries/` or carry their own SQL, so a dashboard and `veille query` run
the same SQL. The committed JSON is this script's output: edit the description, run it, commit
both; tests/deploy/test_grafana.py fails when they differ, and runs every panel's SQL against
chDB.

    python deploy/grafana/build.py           # rewrite the dashboards
    python deploy/grafana/build.py --check   # exit 1 if a committed dashboard differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"
# Where the Grafana container sees deploy/grafana/dashboards (the dashboards provider's path).
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/veille"

# veille_dashboards sits beside this script (on the path when run as a script, not when the
# tests load this file by its path).
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from veille_dashboards import ALL, DATASOURCE, PROMETHEUS  # noqa: E402

__all__ = ["ALL", "DATASOURCE", "GRAFANA_DASHBOARDS_DIR", "PROMETHEUS", "main", "render"]


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as committed."""
    return {d.filename: json.dumps(d.to_json(), indent=2, ensure_ascii=False) + "\n" for d in ALL}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = DASHBOARDS / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            DASHBOARDS.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in DASHBOARDS.glob("*.json") if p.name not in render())
    if args.check:
        for name in stale:
            print(f"{name} differs from build.py's output: run python {Path(__file__).name}")
        for name in extra:
            print(f"{name} is not built by build.py")
        return 1 if stale or extra else 0
    for name in stale:
        print(f"wrote {DASHBOARDS / name}")
    for name in extra:
        print(f"warning: {name} is not built by build.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
