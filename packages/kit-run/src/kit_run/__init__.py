"""kit-run: env.toml profiles, NeMo-Run executors, code shipping and job control.

`import kit_run` is cheap: NeMo-Run (and paramiko/fabric) are imported only when an
executor is built or a job is submitted or queried.
"""
from __future__ import annotations

from kit_run._backend import Executor, PreparedJob
from kit_run._envfile import (
    EnvFile,
    Profile,
    find_env_file,
    list_profiles,
    load_env_file,
    load_env_profile,
    profile_from_mapping,
)
from kit_run._executors import build_executor, check_executor_available
from kit_run._fakes import FakeExecutor, FakeTransport
from kit_run._packaging import GitArchivePackager, PexPackager
from kit_run._profiles import EXECUTORS, SCHEMA_VERSION
from kit_run._spec import JobHandle, JobSpec, JobStatus
from kit_run._submit import (
    cancel_job,
    job_logs,
    job_status,
    list_jobs,
    render_dry_run,
    submit,
    wait_for_job,
)
from kit_run.errors import (
    DirtyTreeError,
    EnvFileError,
    EnvFileNotFoundError,
    ExecutorUnavailableError,
    JobNotFoundError,
    PackagingError,
    ProfileError,
    ProfileKeyError,
    ProfileNotFoundError,
    RunError,
    SchedulerRejectedError,
    SubmissionError,
    TunnelError,
)

__all__ = [
    "DirtyTreeError",
    "EXECUTORS",
    "EnvFile",
    "EnvFileError",
    "EnvFileNotFoundError",
    "Executor",
    "ExecutorUnavailableError",
    "FakeExecutor",
    "FakeTransport",
    "GitArchivePackager",
    "JobHandle",
    "JobNotFoundError",
    "JobSpec",
    "JobStatus",
    "PackagingError",
    "PexPackager",
    "PreparedJob",
    "Profile",
    "ProfileError",
    "ProfileKeyError",
    "ProfileNotFoundError",
    "RunError",
    "SCHEMA_VERSION",
    "SchedulerRejectedError",
    "SubmissionError",
    "TunnelError",
    "build_executor",
    "cancel_job",
    "check_executor_available",
    "find_env_file",
    "job_logs",
    "job_status",
    "list_jobs",
    "list_profiles",
    "load_env_file",
    "load_env_profile",
    "profile_from_mapping",
    "render_dry_run",
    "submit",
    "wait_for_job",
]
