"""Slurm backend: sbatch/sacct/scancel over NeMo-Run's LocalTunnel or SSHTunnel.

Status comes from accounting (`sacct`), falling back to `squeue` in the moment before a new
job reaches the database. sbatch runs with every secret-looking variable removed from its
environment, because sbatch copies the submitter's environment into the job.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from typing import Any

from kit_config import is_secret_key
from kit_run._backend import PreparedJob
from kit_run._scripts import SECRETS_NAME
from kit_run._spec import JobState, JobStatus
from kit_run._transport import Transport, open_transport
from kit_run.errors import SchedulerRejectedError, SubmissionError

__all__ = ["SlurmBackend", "parse_sacct", "slurm_state"]

_STATES: dict[str, JobState] = {
    "COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "NODE_FAIL": "FAILED",
    "OUT_OF_MEMORY": "FAILED", "TIMEOUT": "FAILED", "BOOT_FAIL": "FAILED",
    "DEADLINE": "FAILED", "PREEMPTED": "FAILED", "CANCELLED": "CANCELLED",
    "PENDING": "PENDING", "REQUEUED": "PENDING", "SUSPENDED": "PENDING",
    "RESV_DEL_HOLD": "PENDING", "REQUEUE_HOLD": "PENDING", "RUNNING": "RUNNING",
    "COMPLETING": "RUNNING", "CONFIGURING": "RUNNING", "STAGE_OUT": "RUNNING",
}
q = shlex.quote


def slurm_state(raw: str) -> JobState:
    """Map a Slurm state (`CANCELLED by 0`, `COMPLETED`, ...) to a kit job state."""
    return _STATES.get(raw.split()[0].rstrip("+") if raw.strip() else "", "UNKNOWN")


def parse_sacct(job_id: str, scheduler_id: str, text: str) -> JobStatus | None:
    """Parse `sacct -X -n -P -o JobID,State,ExitCode,Reason` output for one job."""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or parts[0] != scheduler_id:
            continue
        state = slurm_state(parts[1])
        code_text, _, signal = parts[2].partition(":")
        code = int(code_text) if code_text.isdigit() else None
        if code == 0 and signal.isdigit() and int(signal) and state == "FAILED":
            code = 128 + int(signal)
        if state in ("PENDING", "RUNNING"):
            code = None
        reason = parts[3] if len(parts) > 3 and parts[3] not in ("None", "") else None
        return JobStatus(job_id, state, code, scheduler_id, reason)
    return None


class SlurmBackend:
    """Submit and control Slurm jobs through a tunnel opened from the job record."""

    kind = "slurm"

    def __init__(self, connect: Callable[[dict[str, Any]], Transport] | None = None) -> None:
        self._connect = connect or open_transport
        self._cache: dict[str, Transport] = {}

    def _transport(self, record: dict[str, Any]) -> Transport:
        key = repr(sorted(record["tunnel"].items()))
        if key not in self._cache:
            self._cache[key] = self._connect(record["tunnel"])
        return self._cache[key]

    def close(self) -> None:
        """Close every tunnel this backend opened."""
        for transport in self._cache.values():
            transport.close()
        self._cache.clear()

    def submit(self, job: PreparedJob, record: dict[str, Any]) -> str:
        """Ship files, write the secrets file 0600, sbatch; the scheduler's refusal surfaces."""
        transport = self._transport(record)
        remote = job.remote_dir
        local_same = record["tunnel"]["kind"] == "local" and str(job.staging) == remote
        if not local_same:
            made = transport.run(f"mkdir -p {q(remote)}/code && chmod 700 {q(remote)}")
            if made.returncode != 0:
                raise SubmissionError(f"cannot create job dir {remote}: {made.stderr.strip()}",
                                      profile=job.profile.name, job_id=job.job_id)
            for name, path in job.files.items():
                transport.put(path, f"{remote}/{name}")
            if job.secrets_file is not None:
                # Create it 0600 before any byte arrives, then fill it.
                transport.run(f"umask 077 && : > {q(remote + '/' + SECRETS_NAME)}")
                transport.put(job.secrets_file, f"{remote}/{SECRETS_NAME}")
                transport.run(f"chmod 600 {q(remote + '/' + SECRETS_NAME)}")
        scrub = sorted({*record.get("secret_names", []),
                        *(k for k in os.environ if is_secret_key(k))})
        unset = "".join(f" -u {q(k)}" for k in scrub)
        result = transport.run(f"cd {q(remote)} && env{unset} sbatch --parsable "
                               f"{q(remote + '/' + job.script_name)}")
        if result.returncode != 0:
            message = " ".join((result.stderr or result.stdout).split()) or "no message"
            raise SchedulerRejectedError(
                f"sbatch rejected job {job.job_id} (profile {job.profile.name!r}): {message}",
                scheduler_message=message, profile=job.profile.name,
                hint="fix the profile's Slurm settings (account, partition, resources)")
        lines = result.stdout.strip().splitlines()
        scheduler_id = lines[-1].split(";")[0].strip() if lines else ""
        if not scheduler_id.isdigit():
            raise SubmissionError(
                f"sbatch accepted job {job.job_id} but printed no job id "
                f"({result.stdout.strip()!r}); check the `sbatch` on the login node",
                profile=job.profile.name, job_id=job.job_id)
        record["log_file"] = f"{remote}/slurm-{scheduler_id}.out"
        return scheduler_id

    def status(self, record: dict[str, Any]) -> JobStatus:
        """Ask sacct (then squeue) for the job's state and exit code."""
        sid, job_id = str(record["scheduler_id"]), str(record["job_id"])
        transport = self._transport(record)
        out = transport.run(f"sacct -X -n -P -j {q(sid)} -o JobID,State,ExitCode,Reason")
        parsed = parse_sacct(job_id, sid, out.stdout) if out.returncode == 0 else None
        if parsed is not None:
            return parsed
        queued = transport.run(f"squeue -h -j {q(sid)} -o %T")
        state = slurm_state(queued.stdout.strip()) if queued.returncode == 0 else "UNKNOWN"
        return JobStatus(job_id, state, None, sid)

    def read_log(self, record: dict[str, Any], offset: int) -> str:
        """Bytes of the job's output file from `offset` on."""
        log = record.get("log_file")
        if not log:
            return ""
        out = self._transport(record).run(f"tail -c +{offset + 1} {q(log)} 2>/dev/null")
        return out.stdout if out.returncode == 0 else ""

    def cancel(self, record: dict[str, Any]) -> None:
        """scancel the job; a refusal surfaces with Slurm's message."""
        result = self._transport(record).run(f"scancel {q(str(record['scheduler_id']))}")
        if result.returncode != 0:
            raise SubmissionError(f"scancel {record['scheduler_id']} failed: "
                                  f"{result.stderr.strip()}", job_id=record["job_id"])
