"""submit / job_status / job_logs / cancel_job / list_jobs / render_dry_run.

A submission stages everything under `$NEMOTRON_HOME/jobs/<job_id>/`, hands it to the
profile's backend and records the job in `$NEMOTRON_HOME/jobs/<job_id>.json` only once the
scheduler accepted it: a refused or failed submission leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kit_config import SECRET_MASK, scrub_text
from kit_run._backend import Executor, PreparedJob
from kit_run._envfile import Profile, load_env_profile
from kit_run._jobstore import (
    find_records,
    list_records,
    load_record,
    new_job_id,
    save_record,
    staging_dir,
)
from kit_run._local import LocalBackend
from kit_run._nemorun import (
    NEMO_EXECUTORS,
    NEMO_JOB_DIR,
    NemoRunBackend,
    check_secrets_allowed,
    executor_secrets,
    nemo_dry_run,
)
from kit_run._packaging import ShippedCode
from kit_run._scripts import (
    LAUNCHER_NAME,
    SECRETS_NAME,
    job_command,
    render_launcher,
    render_local_script,
    render_sbatch,
    render_secrets,
)
from kit_run._slurm import SlurmBackend
from kit_run._spec import JobHandle, JobSpec, JobStatus
from kit_run._transport import tunnel_info
from kit_run.errors import JobNotFoundError, SubmissionError

__all__ = [
    "backend_for",
    "cancel_job",
    "job_logs",
    "job_status",
    "list_jobs",
    "render_dry_run",
    "submit",
    "wait_for_job",
]

LogSink = Callable[[str], Any]
_BACKENDS: dict[str, Executor] = {}


def backend_for(kind: str) -> Executor:
    """The backend for an executor kind (one per process, so tunnels are reused).

    `kind` is an executor (`slurm`, `local`, `docker`, ...) or a job record's backend
    (`nemo_run` for the executors NeMo-Run submits).
    """
    name = "nemo_run" if kind in NEMO_EXECUTORS else kind
    if name not in _BACKENDS:
        factories = {"slurm": SlurmBackend, "local": LocalBackend, "nemo_run": NemoRunBackend}
        if name not in factories:
            raise SubmissionError(
                f"kit-run has no backend for {kind!r}; use one of "
                f"{', '.join(sorted(('local', 'slurm', *NEMO_EXECUTORS)))}",
                hint="fix `executor` in the profile")
        _BACKENDS[name] = factories[name]()
    return _BACKENDS[name]


def _profile(profile: Profile | str) -> Profile:
    return profile if isinstance(profile, Profile) else load_env_profile(profile)


def _remote_dir(profile: Profile, job_id: str, staging: Path) -> str:
    if profile.executor in NEMO_EXECUTORS:
        return NEMO_JOB_DIR
    if profile.executor == "slurm" and profile.tunnel == "ssh":
        return f"{str(profile.get('remote_job_dir')).rstrip('/')}/{job_id}"
    if profile.get("job_dir"):
        return f"{str(profile.get('job_dir')).rstrip('/')}/{job_id}"
    return str(staging)


def _dependency_ids(spec: JobSpec, kind: str) -> tuple[str, ...]:
    ids: list[str] = []
    for dep in spec.dependencies:
        matches = [r for r in find_records(dep) if r.get("scheduler_id")]
        if matches:
            ids.extend(str(r["scheduler_id"]) for r in matches)
        elif dep.isdigit() and kind == "slurm":
            ids.append(dep)
        else:
            raise JobNotFoundError(f"dependency {dep!r} of job {spec.name!r} is not a known "
                                   "job, experiment or Slurm job id", job_id=dep)
    if ids and kind != "slurm":
        raise SubmissionError(f"job dependencies need a slurm profile, not {kind!r}",
                              hint="run the stages one after another, or use a slurm profile")
    return tuple(ids)


def _render(spec: JobSpec, profile: Profile, job_id: str, staging: Path,
            secrets: Mapping[str, str], deps: tuple[str, ...], local_dir: Path | None = None
            ) -> tuple[str, ShippedCode | None, dict[str, str]]:
    """Stage the code and return (remote dir, shipped code, {file name: text}).

    `local_dir` is the job dir a local job would use when it differs from `staging` (a dry
    run stages into a temp dir but shows the real job dir).
    """
    remote = _remote_dir(profile, job_id, local_dir or staging)
    code = None
    if spec.packager is not None:
        code = spec.packager.prepare(staging, remote, profile_python=profile.get("pex_python"),
                                     profile_inherit=profile.get("pex_inherit_path"))
    texts = {LAUNCHER_NAME: render_launcher(spec, profile, remote, job_id, code)}
    if profile.executor == "slurm":
        texts["job.sbatch"] = render_sbatch(spec, profile, remote, job_id, code, deps)
    else:
        texts["job.sh"] = render_local_script(spec, remote, code)
    if secrets:
        texts[SECRETS_NAME] = render_secrets(secrets)
    return remote, code, texts


def render_dry_run(spec: JobSpec, profile: Profile | str,
                   secrets: Mapping[str, str] | None = None) -> str:
    """Everything a submission would do, as text; nothing is written or submitted."""
    prof = _profile(profile)
    all_secrets = dict(secrets or {})
    _own, secrets = executor_secrets(prof, all_secrets)
    if prof.executor in NEMO_EXECUTORS:
        check_secrets_allowed(prof, secrets)
    job_id = new_job_id(spec.name)
    deps = tuple(f"<{d}>" for d in spec.dependencies) if prof.executor == "slurm" else ()
    with tempfile.TemporaryDirectory(prefix="kit-run-dry-") as tmp:
        remote, code, texts = _render(spec, prof, job_id, Path(tmp), secrets, deps,
                                      local_dir=staging_dir(job_id))
    settings = {k: v for k, v in sorted(prof.settings.items()) if k != "env_vars"}
    parts = [f"# kit-run dry run: job {job_id}, profile {prof.name!r} "
             f"(executor {prof.executor}, extends chain {' -> '.join(prof.chain)})",
             "# executor settings:",
             *(f"#   {k} = {json.dumps(v)}" for k, v in settings.items()),
             f"# job dir: {remote}",
             f"# command: {' '.join(job_command(spec, code))}"]
    if code:
        parts.append(f"# code: {json.dumps(code.record, sort_keys=True)}")
    if secrets:
        parts.append(f"# {SECRETS_NAME} (0600, sourced by {LAUNCHER_NAME}): "
                     + ", ".join(f"{k}={SECRET_MASK}" for k in sorted(secrets)))
    for name, text in texts.items():
        if name != SECRETS_NAME:
            parts += [f"# ----- {name} -----", text.rstrip("\n")]
    if prof.executor in NEMO_EXECUTORS:
        parts += [f"# ----- NeMo-Run {prof.executor} dry run (files above appear at "
                  f"{NEMO_JOB_DIR}) -----", nemo_dry_run(prof, all_secrets).rstrip("\n")]
    return scrub_text("\n".join(parts) + "\n", all_secrets.values())


def submit(spec: JobSpec, profile: Profile | str, *, attached: bool,
           secrets: Mapping[str, str] | None = None, dry_run: bool = False,
           log_sink: LogSink | None = None, poll_interval: float = 0.5,
           executor: Executor | None = None) -> JobHandle:
    """Submit a job. Attached: stream its output to `log_sink` (stdout) and wait for it.

    Detached returns at once with the job id; `job_status`/`job_logs`/`cancel_job` follow
    it from any later process. `secrets` reach the job only through a 0600 file.
    """
    prof = _profile(profile)
    all_secrets = dict(secrets or {})
    if dry_run:
        text = render_dry_run(spec, prof, all_secrets)
        return JobHandle(job_id="dry-run", experiment_id=spec.experiment or "dry-run",
                         profile=prof.name, state="UNKNOWN", dry_run_text=text)
    own_secrets, secrets = executor_secrets(prof, all_secrets)
    if prof.executor in NEMO_EXECUTORS:
        check_secrets_allowed(prof, secrets)
    backend = executor or backend_for(prof.executor)
    deps = _dependency_ids(spec, prof.executor)
    job_id = new_job_id(spec.name)
    staging = staging_dir(job_id)
    staging.mkdir(parents=True, exist_ok=False)
    try:
        remote, code, texts = _render(spec, prof, job_id, staging, secrets, deps)
        files: dict[str, Path] = {}
        for name, text in texts.items():
            path = staging / name
            if name == SECRETS_NAME:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as secret_file:
                    secret_file.write(text)
            else:
                path.write_text(text, encoding="utf-8")
                files[name] = path
        files.update(code.files if code else {})
        files.update({name: Path(src) for name, src in spec.files.items()})
        if remote == str(staging):  # local job dir: put the shipped files in place now
            for name, src in files.items():
                target = staging / name
                if target != src:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target)
        job = PreparedJob(job_id=job_id, spec=spec, profile=prof, remote_dir=remote,
                          staging=staging, files=files,
                          secrets_file=staging / SECRETS_NAME if secrets else None,
                          dependencies=deps,
                          script_name="job.sbatch" if prof.executor == "slurm" else "job.sh",
                          executor_secrets=own_secrets)
        record: dict[str, Any] = {
            "job_id": job_id, "experiment_id": spec.experiment or job_id, "name": spec.name,
            "profile": prof.name, "profile_chain": list(prof.chain),
            "env_file": prof.file, "executor": prof.executor, "backend": backend.kind,
            "command": job_command(spec, code), "ntasks": spec.ntasks,
            "remote_dir": remote, "staging_dir": str(staging), "tunnel": tunnel_info(prof),
            "dependencies": list(deps), "code": code.record if code else None,
            "secret_names": sorted(secrets), "submitted_at": time.time(),
            "attached": attached,
        }
        record["scheduler_id"] = backend.submit(job, record)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    path = save_record(record)
    handle = JobHandle(job_id=job_id, experiment_id=record["experiment_id"], profile=prof.name,
                       scheduler_id=record["scheduler_id"], state="PENDING", record_path=path)
    if not attached:
        return handle
    final = wait_for_job(job_id, log_sink=log_sink or sys.stdout.write,
                         poll_interval=poll_interval, executor=backend)
    return JobHandle(job_id=job_id, experiment_id=handle.experiment_id, profile=prof.name,
                     scheduler_id=handle.scheduler_id, state=final.state,
                     exit_code=final.exit_code, record_path=path)


def _backend(record: dict[str, Any], executor: Executor | None) -> Executor:
    return executor or backend_for(str(record["backend"]))


def job_status(job_id: str, *, executor: Executor | None = None) -> JobStatus:
    """The state of a job (by job, experiment or Slurm id), from any process."""
    record = load_record(job_id)
    status = _backend(record, executor).status(record)
    return JobStatus(record["job_id"], status.state, status.exit_code, status.scheduler_id,
                     status.reason)


def _follow(record: dict[str, Any], backend: Executor, poll_interval: float,
            timeout: float | None) -> Iterator[tuple[str, JobStatus | None]]:
    offset, deadline = 0, None if timeout is None else time.monotonic() + timeout
    while True:
        status = backend.status(record)
        chunk = backend.read_log(record, offset)
        offset += len(chunk.encode("utf-8"))
        if chunk:
            yield chunk, None
        if status.done:
            time.sleep(min(poll_interval, 0.2))  # the last lines may land just after the end
            tail = backend.read_log(record, offset)
            if tail:
                yield tail, None
            yield "", status
            return
        if deadline is not None and time.monotonic() > deadline:
            raise SubmissionError(f"job {record['job_id']} still {status.state} after "
                                  f"{timeout}s", job_id=record["job_id"])
        time.sleep(poll_interval)


def wait_for_job(job_id: str, *, log_sink: LogSink | None = None, poll_interval: float = 0.5,
                 timeout: float | None = None, executor: Executor | None = None) -> JobStatus:
    """Wait until a job ends, streaming its output to `log_sink` when given."""
    record = load_record(job_id)
    for chunk, status in _follow(record, _backend(record, executor), poll_interval, timeout):
        if chunk and log_sink is not None:
            log_sink(chunk)
        if status is not None:
            return JobStatus(record["job_id"], status.state, status.exit_code,
                             status.scheduler_id, status.reason)
    raise AssertionError("unreachable: _follow always ends with a status")


def job_logs(job_id: str, follow: bool = False, *, poll_interval: float = 0.5,
             executor: Executor | None = None) -> Iterator[str]:
    """The job's output: what exists now, or (follow) everything until the job ends."""
    record = load_record(job_id)
    backend = _backend(record, executor)
    if not follow:
        text = backend.read_log(record, 0)
        if text:
            yield text
        return
    for chunk, _status in _follow(record, backend, poll_interval, None):
        if chunk:
            yield chunk


def cancel_job(job_id: str, *, wait: float = 30.0, executor: Executor | None = None
               ) -> JobStatus:
    """Cancel a job (by job, experiment or Slurm id) and wait up to `wait` s for it to end."""
    records = find_records(job_id) or [load_record(job_id)]
    last: JobStatus | None = None
    for record in records:
        backend = _backend(record, executor)
        backend.cancel(record)
        deadline = time.monotonic() + wait
        status = backend.status(record)
        while not status.done and time.monotonic() < deadline:
            time.sleep(0.3)
            status = backend.status(record)
        last = status
    assert last is not None
    return last


def list_jobs() -> list[dict[str, Any]]:
    """Every job record, oldest first (what `nemotron job ls` shows)."""
    return list_records()
