"""Batch compliance: `POST /2/compliance/jobs`, `GET /2/compliance/jobs/:id`, upload, download.

The job's upload and download URLs are absolute, served by this same server outside `/2`, with
no bearer needed (on real X they are pre-signed cloud-storage URLs on another host). A job is
`in_progress` for `compliance_polls` status reads after its upload, then `complete`; its download
lists the uploaded ids that `FakeX.mark_deleted` named.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fakex.state import FakeXState, Job
from fakex.transport import Reply, Request
from fakex.wire import invalid_request, iso, problem


class ComplianceEndpoints(FakeXState):
    """The batch-compliance endpoints."""

    def _create_job(self, req: Request, _: re.Match[str]) -> Reply:
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("type") not in ("tweets", "users"):
            got = [str(body.get("type"))] if isinstance(body, dict) else []
            return Reply(400, invalid_request("`type` must be tweets or users", type=got))
        with self._cond:
            job = Job(str(next(self._ids)), body["type"], body.get("name"), self._clock())
            self._jobs[job.id] = job
            return Reply(200, {"data": self._job_json(job, "created")})

    def _job_status(self, req: Request, match: re.Match[str]) -> Reply:
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None:
                return Reply(404, problem(404, f"Could not find job with id: [{match[1]}]."))
            if job.ids is None:
                status = "created"
            elif job.reads_after_upload < self._compliance_polls:
                job.reads_after_upload += 1
                status = "in_progress"
            else:
                status = "complete"
            return Reply(200, {"data": self._job_json(job, status)})

    def _job_json(self, job: Job, status: str) -> dict[str, Any]:
        return {
            "id": job.id,
            "type": job.type,
            **({"name": job.name} if job.name is not None else {}),
            "status": status,
            "upload_url": f"{self.base_url}/upload/{job.id}",
            "download_url": f"{self.base_url}/download/{job.id}",
            "upload_expires_at": iso(job.created_at + timedelta(minutes=15)),
            "download_expires_at": iso(job.created_at + timedelta(days=7)),
            "created_at": iso(job.created_at),
            "resumable": False,
        }

    def _upload(self, req: Request, match: re.Match[str]) -> Reply:
        if not req.headers.get("Content-Type", "").startswith("text/plain"):
            return Reply(
                403, b"SignatureDoesNotMatch: Content-Type must be text/plain", {}, "text/plain"
            )
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None:
                return Reply(404, b"NoSuchKey", {}, "text/plain")
            lines = req.body.decode("utf-8", "replace").splitlines()
            job.ids = [line.strip() for line in lines if line.strip()]
        return Reply(200, b"", {}, "text/plain")

    def _download(self, req: Request, match: re.Match[str]) -> Reply:
        with self._cond:
            job = self._jobs.get(match[1])
            if job is None or job.ids is None or job.reads_after_upload < self._compliance_polls:
                return Reply(404, b"NoSuchKey", {}, "text/plain")
            created = {str(p.id): p.created_at for p in self._timeline}
            redacted = self._clock()
            lines = [
                {
                    "id": post_id,
                    "action": "delete",
                    "created_at": iso(created.get(post_id, redacted)),
                    "redacted_at": iso(redacted),
                    "reason": self._deleted[post_id],
                }
                for post_id in job.ids
                if post_id in self._deleted
            ]
        return Reply(200, b"".join(json.dumps(x).encode() + b"\n" for x in lines))
