"""veille's Grafana dashboards, one module each, on the builder of `builder.py`.

`deploy/grafana/build.py` renders `ALL` into `deploy/grafana/dashboards/*.json`.
"""

from __future__ import annotations

from .audience import AUDIENCE
from .builder import DATASOURCE, PROMETHEUS, Dashboard
from .crisis_alerts import CRISIS
from .customer_care import CUSTOMER_CARE
from .overview import OVERVIEW
from .pipeline_health import PIPELINE

ALL: list[Dashboard] = [OVERVIEW, CUSTOMER_CARE, CRISIS, AUDIENCE, PIPELINE]

__all__ = ["ALL", "DATASOURCE", "PROMETHEUS", "Dashboard"]
