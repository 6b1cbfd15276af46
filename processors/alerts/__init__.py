"""Alerts: crisis (volume spikes, sentiment dips) per watch entry, and impersonation.

`crisis` and `impersonation` hold the detectors (pure, testable alone); `agent` wires them into
the Faust app.
"""
