"""Filtered-stream rules: `GET/POST /2/tweets/search/stream/rules` (add, delete, `dry_run`).

No rule syntax check beyond length (`MAX_RULE_LENGTH`) and duplicates; rules never filter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from fakex.state import FakeXState, RuleCall
from fakex.transport import Reply, Request
from fakex.wire import MAX_RULE_LENGTH, PROBLEMS, csv_param, invalid_request, iso


class RulesEndpoints(FakeXState):
    """The rules endpoints; every call is logged in `_rule_calls`."""

    def _get_rules(self, req: Request, _: re.Match[str]) -> Reply:
        wanted = csv_param(req.query, "ids")
        with self._cond:
            rules = [r for r in self._rules if not wanted or r["id"] in wanted]
            body: dict[str, Any] = {
                "meta": {"sent": iso(self._clock()), "result_count": len(rules)}
            }
            if rules:
                body["data"] = copy.deepcopy(rules)
            self._rule_calls.append(RuleCall("GET", False, None, 200))
        return Reply(200, body)

    def _post_rules(self, req: Request, _: re.Match[str]) -> Reply:
        dry_run = req.query.get("dry_run", "false").lower() in ("true", "1")
        try:
            body = req.json()
        except ValueError:
            body = None
        with self._cond:
            if isinstance(body, dict) and list(body) == ["add"] and isinstance(body["add"], list):
                reply = self._add_rules(body["add"], dry_run)
            elif isinstance(body, dict) and list(body) == ["delete"]:
                doomed = body["delete"] if isinstance(body["delete"], dict) else {}
                reply = self._delete_rules(doomed, dry_run)
            else:
                reply = Reply(400, invalid_request("Body must be one of {add: [...]}, {delete}"))
            self._rule_calls.append(RuleCall("POST", dry_run, body, reply.status))
        return reply

    def _add_rules(self, wanted: list[Any], dry_run: bool) -> Reply:
        existing = {r["value"]: r["id"] for r in self._rules}
        created: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        for item in wanted:
            value = str(item.get("value", "")) if isinstance(item, dict) else ""
            if not value:
                return Reply(400, invalid_request("Each rule needs a non-empty value"))
            if value in existing:
                error = {"value": value, "id": existing[value], "title": "DuplicateRule"}
                errors.append(error | {"type": PROBLEMS + "duplicate-rules"})
            elif len(value) > MAX_RULE_LENGTH:
                error = {"value": value, "title": "RuleLengthExceeded"}
                errors.append(error | {"type": PROBLEMS + "invalid-rules"})
            else:
                rule = {"id": str(next(self._ids)), "value": value}
                if item.get("tag") is not None:
                    rule["tag"] = str(item["tag"])
                existing[value] = rule["id"]
                created.append(rule)
        if not dry_run:
            self._rules.extend(created)
        summary = {"created": len(created), "not_created": len(errors)}
        summary |= {"valid": len(created), "invalid": len(errors)}
        body: dict[str, Any] = {"meta": {"sent": iso(self._clock()), "summary": summary}}
        if created:
            body["data"] = copy.deepcopy(created)
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _delete_rules(self, wanted: Mapping[str, Any], dry_run: bool) -> Reply:
        ids = {str(i) for i in wanted.get("ids", [])}
        values = {str(v) for v in wanted.get("values", [])}
        doomed = [r for r in self._rules if r["id"] in ids or r["value"] in values]
        found = {r["id"] for r in doomed} | {r["value"] for r in doomed}
        missing = sorted((ids | values) - found)
        if not dry_run:
            self._rules = [r for r in self._rules if r not in doomed]
        summary = {"deleted": len(doomed), "not_deleted": len(missing)}
        body: dict[str, Any] = {"meta": {"sent": iso(self._clock()), "summary": summary}}
        if missing:
            body["errors"] = [
                {
                    "value": m,
                    "details": ["Rule does not exist"],
                    "title": "Invalid Request",
                    "type": PROBLEMS + "invalid-request",
                }
                for m in missing
            ]
        return Reply(200, body)
