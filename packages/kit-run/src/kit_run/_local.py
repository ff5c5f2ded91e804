"""Local backend: the job runs as a detached process group on this machine.

NeMo-Run's LocalExecutor cannot detach, so kit-run starts the driver script itself; the
driver writes its exit status to `exit_code` in the job dir, which any later process reads.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from kit_config import is_secret_key
from kit_run._backend import PreparedJob
from kit_run._spec import JobStatus

__all__ = ["LocalBackend"]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie has finished


class LocalBackend:
    """Run jobs as local process groups; status from the exit-code file and the PID."""

    kind = "local"

    def submit(self, job: PreparedJob, record: dict[str, Any]) -> str:
        """Start the driver detached (new session), output to `output.log`."""
        directory = Path(job.remote_dir)
        log = directory / "output.log"
        env = {k: v for k, v in os.environ.items() if not is_secret_key(k)}
        with log.open("ab") as out:
            process = subprocess.Popen(["bash", str(directory / job.script_name)],
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, env=env, cwd=directory,
                                       start_new_session=True)
        record["log_file"] = str(log)
        record["pid"] = process.pid
        return str(process.pid)

    def status(self, record: dict[str, Any]) -> JobStatus:
        """Finished when `exit_code` exists; cancelled when kit-run killed it."""
        directory = Path(record["remote_dir"])
        job_id, sid = str(record["job_id"]), str(record.get("scheduler_id"))
        if (directory / "cancelled").exists():
            return JobStatus(job_id, "CANCELLED", None, sid)
        code_file = directory / "exit_code"
        if code_file.is_file():
            code = int(code_file.read_text().strip() or 1)
            return JobStatus(job_id, "SUCCEEDED" if code == 0 else "FAILED", code, sid)
        if _alive(int(record["pid"])):
            return JobStatus(job_id, "RUNNING", None, sid)
        return JobStatus(job_id, "FAILED", None, sid, "process ended without an exit status")

    def read_log(self, record: dict[str, Any], offset: int) -> str:
        """Output from byte `offset` on."""
        try:
            with open(record["log_file"], "rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cancel(self, record: dict[str, Any]) -> None:
        """Mark the job cancelled, then TERM its whole process group."""
        Path(record["remote_dir"], "cancelled").touch()
        try:
            os.killpg(int(record["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            pass
