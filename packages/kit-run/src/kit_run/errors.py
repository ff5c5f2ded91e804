"""Errors of kit-run: bad env.toml profiles, missing executors, failed submissions.

Every error derives from `RunError` (itself a `kit_config.errors.KitError`) and from the
builtin it is, carries its context as attributes, and reads as one line: what is wrong,
where, and how to fix it.
"""
from __future__ import annotations

from collections.abc import Sequence

from kit_config.errors import ConfigProblem, KitError

__all__ = [
    "DirtyTreeError",
    "EnvFileError",
    "EnvFileNotFoundError",
    "ExecutorUnavailableError",
    "JobNotFoundError",
    "PackagingError",
    "ProfileError",
    "ProfileKeyError",
    "ProfileNotFoundError",
    "ProfileProblem",
    "RunError",
    "SchedulerRejectedError",
    "SubmissionError",
    "TunnelError",
]


class RunError(KitError):
    """Base of kit-run's errors: a profile, executor, packager or submission is wrong."""


class EnvFileNotFoundError(RunError, FileNotFoundError):
    """No env.toml was found (searched from `start` upward, or at `$NEMOTRON_ENV_FILE`)."""

    def __init__(self, message: str, *, searched: Sequence[str] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.searched = tuple(searched)


class EnvFileError(RunError, ValueError):
    """env.toml is not valid TOML or a reserved table is malformed."""

    def __init__(self, message: str, *, file: str, line: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line


class ProfileNotFoundError(RunError, LookupError):
    """The requested profile is not a table of env.toml; `known` lists the ones that are."""

    def __init__(self, message: str, *, profile: str, known: Sequence[str], file: str | None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.profile = profile
        self.known = tuple(known)
        self.file = file


class ProfileKeyError(RunError, KeyError):
    """Code asked a profile for a key it does not set, or one no executor has (a typo)."""

    def __init__(self, message: str, *, profile: str, key: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.profile = profile
        self.key = key


class ProfileProblem(ConfigProblem):
    """One problem of a profile: the key path, what is wrong, the closest known key, and
    where in env.toml the key is set (`file`, `line`, when known)."""

    __slots__ = ("profile", "suggestion")

    def __init__(self, profile: str, key: str, message: str, suggestion: str | None = None,
                 *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(key, message, file, line)
        self.profile = profile
        self.suggestion = suggestion

    @property
    def key(self) -> str:
        """The key path inside the profile (`nodes`, `env_vars.HF_TOKEN`)."""
        return self.path

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        where = f" (line {self.line})" if self.line else ""
        return f"[{self.profile}] {self.key}: {self.message}{hint}{where}"


class ProfileError(RunError, ValueError):
    """A profile is invalid; `problems` holds every problem found, each with its key path.

    `profile`, `key` and `suggestion` describe the first problem (the contract's attributes).
    """

    def __init__(self, problems: Sequence[ProfileProblem], *, file: str | None,
                 hint: str | None = None) -> None:
        self.problems = list(problems)
        self.file = file
        first = self.problems[0]
        self.profile = first.profile
        self.key = first.key
        self.suggestion = first.suggestion
        where = f" in {file}" if file else ""
        listing = "; ".join(str(p) for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in profile {first.profile!r}{where}: {listing}",
            hint=hint or "fix these keys in env.toml (see kit-run's README for the schema)",
        )


class ExecutorUnavailableError(RunError, ImportError):
    """The executor's Python extra or client is not installed; `install` says what to add."""

    def __init__(self, message: str, *, executor: str, install: str) -> None:
        super().__init__(message, hint=f"install it with: {install}")
        self.executor = executor
        self.install = install


class PackagingError(RunError, ValueError):
    """The code to ship could not be packaged (missing PEX, not a git repository, ...)."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.path = path


class DirtyTreeError(PackagingError):
    """The git tree has uncommitted changes and `allow_dirty` is off; `changed` lists them."""

    def __init__(self, message: str, *, path: str, changed: Sequence[str]) -> None:
        super().__init__(message, path=path,
                         hint="commit or stash them, or pass allow_dirty=True to ship the "
                              "working tree and record its diff")
        self.changed = tuple(changed)


class SubmissionError(RunError, RuntimeError):
    """A job could not be submitted or controlled; `profile`/`job_id` say which."""

    def __init__(self, message: str, *, profile: str | None = None, job_id: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.profile = profile
        self.job_id = job_id


class SchedulerRejectedError(SubmissionError):
    """The scheduler (sbatch) refused the job; `scheduler_message` is what it said."""

    def __init__(self, message: str, *, scheduler_message: str, profile: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, profile=profile, hint=hint)
        self.scheduler_message = scheduler_message


class TunnelError(RunError, ConnectionError):
    """The cluster could not be reached over SSH (host down, refused, bad key, timeout)."""

    def __init__(self, message: str, *, host: str, port: int, user: str | None,
                 profile: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.port = port
        self.user = user
        self.profile = profile


class JobNotFoundError(RunError, LookupError):
    """No job record has this job or experiment id under `$NEMOTRON_HOME/jobs`."""

    def __init__(self, message: str, *, job_id: str, known: Sequence[str] = ()) -> None:
        super().__init__(message, hint="`nemotron job ls` (kit_run.list_jobs()) lists the "
                                       "known jobs")
        self.job_id = job_id
        self.known = tuple(known)
