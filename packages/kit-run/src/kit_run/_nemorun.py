"""NeMo-Run backend: docker, skypilot, lepton and dgxcloud jobs through `run.Experiment`.

kit-run stages its files (launcher, driver, code, 0600 secrets file) into the NeMo-Run
task's job dir under `kit/`; NeMo-Run ships that dir to the target and mounts it at
`/nemo_run` (Docker volume, SkyPilot file mount, Lepton/DGX Cloud storage), so the job sees
them at `/nemo_run/kit`. Experiments live under `$NEMOTRON_HOME/jobs/nemo_run`, where a later
process reconstructs them for status, logs and cancel. nemo_run is imported only here.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import socket
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kit_config import home_dir, scrub_text
from kit_run._backend import PreparedJob
from kit_run._envfile import Profile
from kit_run._executors import build_executor
from kit_run._spec import JobState, JobStatus
from kit_run.errors import SubmissionError

__all__ = [
    "NEMO_EXECUTORS",
    "NEMO_JOB_DIR",
    "NemoRunBackend",
    "check_secrets_allowed",
    "executor_secrets",
    "nemo_dry_run",
]

NEMO_EXECUTORS = ("dgxcloud", "docker", "lepton", "skypilot")
NEMO_JOB_DIR = "/nemo_run/kit"  # where the staged files appear inside the job
_TASK = "job"
_DRIVER = f"bash {NEMO_JOB_DIR}/job.sh 2>&1 | tee -a {NEMO_JOB_DIR}/output.log; " \
          "exit ${PIPESTATUS[0]}"
# Credentials the executor itself uses to submit; they never reach the job.
_EXECUTOR_SECRETS = {"dgxcloud": ("DGXCLOUD_CLIENT_SECRET",)}
# Lepton and DGX Cloud move the job dir through workload commands (base64 in the spec), so a
# secrets file would land in the platform's job spec: refuse instead of leaking.
_NO_PRIVATE_FILE = ("dgxcloud", "lepton")
_STATES: dict[str, JobState] = {
    "UNSUBMITTED": "PENDING", "SUBMITTED": "PENDING", "PENDING": "PENDING",
    "RUNNING": "RUNNING", "SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED",
    "CANCELLED": "CANCELLED", "UNKNOWN": "UNKNOWN",
}


def executor_secrets(profile: Profile, secrets: Mapping[str, str]) -> tuple[dict[str, str],
                                                                            dict[str, str]]:
    """Split `secrets` into (the executor's own credentials, the job's secrets)."""
    own = _EXECUTOR_SECRETS.get(profile.executor, ())
    return ({k: v for k, v in secrets.items() if k in own},
            {k: v for k, v in secrets.items() if k not in own})


def check_secrets_allowed(profile: Profile, job_secrets: Mapping[str, str]) -> None:
    """Refuse job secrets on executors that cannot deliver them as a private file."""
    if job_secrets and profile.executor in _NO_PRIVATE_FILE:
        raise SubmissionError(
            f"profile {profile.name!r} (executor {profile.executor}) cannot hand secrets "
            f"({', '.join(sorted(job_secrets))}) to a job privately: its job dir travels "
            "inside the workload spec", profile=profile.name,
            hint=f"store them in the {profile.executor} workspace's secret store, or use a "
                 "slurm/docker profile")


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Capture what NeMo-Run's rich console prints (it writes to sys.stdout/stderr)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def nemo_dry_run(profile: Profile, secrets: Mapping[str, str]) -> str:
    """NeMo-Run's own dry run of the task (offline), in a temp dir that is then removed."""
    import nemo_run as run

    own, _job = executor_secrets(profile, secrets)
    executor = build_executor(profile, secrets=own)
    with tempfile.TemporaryDirectory(prefix="kit-run-nemo-dry-") as tmp, _quiet() as out, \
            run.Experiment("kit-dry-run", executor=executor, base_dir=tmp, log_level="ERROR",
                           skip_status_at_exit=True) as exp:
        exp.add(run.Script(inline=_DRIVER), name=_TASK)
        exp.dryrun(log=True)
    values = [*secrets.values(), str(getattr(executor, "client_secret", "") or "")]
    return scrub_text(out.getvalue(), values)


def _preflight(profile: Profile) -> None:
    """Fail fast, with one clear line, when the engine or API cannot be reached."""
    if profile.executor == "docker":
        import docker  # type: ignore[import-untyped]  # pants: no-infer-dep

        try:
            docker.from_env(timeout=10).ping()
        except Exception as exc:  # docker raises DockerException or requests' errors
            raise SubmissionError(
                f"profile {profile.name!r}: the Docker engine is not reachable "
                f"({' '.join(str(exc).split())[:200]})", profile=profile.name,
                hint="start the Docker daemon (dockerd) or set DOCKER_HOST") from None
    if profile.executor == "dgxcloud":
        url = urllib.parse.urlsplit(str(profile.get("base_url")))
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "", port), timeout=10).close()
        except OSError as exc:
            raise SubmissionError(
                f"profile {profile.name!r}: DGX Cloud API {profile.get('base_url')} is not "
                f"reachable ({exc})", profile=profile.name,
                hint="check `base_url` and your network") from None


class NemoRunBackend:
    """Submit through `run.Experiment`; status/logs/cancel from the reconstructed experiment."""

    kind = "nemo_run"

    def submit(self, job: PreparedJob, record: dict[str, Any]) -> str:
        """Stage files into the task's job dir and launch it detached; return the app id."""
        import nemo_run as run

        from kit_run._nemo_packager import KitFilesPackager

        profile = job.profile
        _preflight(profile)
        executor = build_executor(profile, secrets=job.executor_secrets)
        base = home_dir("jobs") / "nemo_run"
        files = {name: str(src) for name, src in job.files.items()}
        private = []
        if job.secrets_file is not None:
            files[job.secrets_file.name] = str(job.secrets_file)
            private.append(job.secrets_file.name)
        executor.packager = KitFilesPackager(files=files, private=private)
        try:
            with _quiet() as out, run.Experiment(
                    job.job_id, executor=executor, base_dir=str(base), log_level="ERROR",
                    skip_status_at_exit=True) as exp:
                exp.add(run.Script(inline=_DRIVER), name=_TASK)
                kit_dir = Path(exp.jobs[0].executor.job_dir) / "kit"
                exp.run(detach=True)
                # NeMo-Run detaches only from Slurm/SkyPilot; the others were launched
                # without waiting, so leaving the context must not wait for them either.
                exp.detach = True
                handle = str(exp.jobs[0].handle or "")
                experiment_id = str(exp._id)
        except SubmissionError:
            raise
        except Exception as exc:
            # A refused launch leaves no experiment behind (a record is never written).
            shutil.rmtree(base / "experiments" / job.job_id, ignore_errors=True)
            message = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise SubmissionError(
                f"{profile.executor} submission of job {job.job_id} (profile "
                f"{profile.name!r}) failed: {message}", profile=profile.name,
                job_id=job.job_id, hint="check the profile and the target's credentials"
            ) from None
        if not handle:
            raise SubmissionError(f"NeMo-Run did not launch job {job.job_id}: "
                                  + " ".join(out.getvalue().split())[-300:],
                                  profile=profile.name, job_id=job.job_id)
        record.update({"nemo_experiment_id": experiment_id, "nemo_base_dir": str(base),
                       "nemo_handle": handle, "kit_dir": str(kit_dir),
                       "log_file": str(kit_dir / "output.log")})
        return handle.rstrip("/").rsplit("/", 1)[-1]

    def _experiment(self, record: dict[str, Any]) -> Any:
        import nemo_run as run
        from nemo_run.config import get_nemorun_home, set_nemorun_home

        previous = get_nemorun_home()
        set_nemorun_home(str(record["nemo_base_dir"]))
        try:
            with _quiet():
                return run.Experiment.from_id(str(record["nemo_experiment_id"]))
        finally:
            set_nemorun_home(previous)

    def status(self, record: dict[str, Any]) -> JobStatus:
        """The exit-code file when the job dir is local (Docker), else NeMo-Run's state."""
        job_id, sid = str(record["job_id"]), str(record.get("scheduler_id"))
        code_file = Path(str(record.get("kit_dir", "")), "exit_code")
        if record.get("executor") == "docker" and code_file.is_file():
            code = int(code_file.read_text().strip() or 1)
            return JobStatus(job_id, "SUCCEEDED" if code == 0 else "FAILED", code, sid)
        with _quiet():
            states = self._experiment(record).status(return_dict=True) or {}
        raw = str(states.get(_TASK, {}).get("status", "UNKNOWN")).rsplit(".", 1)[-1]
        state = _STATES.get(raw.upper(), "UNKNOWN")
        # Remote platforms report the outcome, not the process's exit status.
        outcome: int | None = {"SUCCEEDED": 0, "FAILED": 1}.get(state)
        reason = (f"{record.get('executor')} reports {raw}; the exact exit status is in the "
                  "job's log") if state == "FAILED" else None
        return JobStatus(job_id, state, outcome, sid, reason)

    def read_log(self, record: dict[str, Any], offset: int) -> str:
        """The local `output.log` (Docker), else what NeMo-Run's log fetcher prints."""
        log = Path(str(record.get("log_file", "")))
        if log.is_file():
            with log.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        with _quiet() as out:
            self._experiment(record).logs(_TASK)
        return out.getvalue().encode()[offset:].decode("utf-8", "replace")

    def cancel(self, record: dict[str, Any]) -> None:
        """Ask NeMo-Run to stop the task."""
        with _quiet():
            self._experiment(record).cancel(_TASK)
