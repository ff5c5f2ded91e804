"""How kit-run reaches a Slurm login node: NeMo-Run's LocalTunnel or SSHTunnel.

`Transport` is the boundary (run a shell command, copy a file); `TunnelTransport` drives a
real NeMo-Run tunnel and `FakeTransport` (in `_fakes`) records calls for unit tests.
SSH connections are opened here with key-only auth and bounded timeouts: NeMo-Run's own
connect falls back to a password prompt, which would hang a non-interactive submission.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import attrs

from kit_run._envfile import Profile
from kit_run.errors import TunnelError

__all__ = [
    "CommandResult",
    "LocalTransport",
    "Transport",
    "TunnelTransport",
    "open_transport",
    "tunnel_info",
]


@attrs.frozen
class CommandResult:
    """Exit status and output of one shell command on the login node."""

    returncode: int
    stdout: str
    stderr: str


class Transport(Protocol):
    """Run commands and place files on the machine where sbatch runs."""

    def run(self, command: str) -> CommandResult:
        """Run a shell command there; never raises on a non-zero exit."""
        ...

    def put(self, local: Path, remote: str) -> None:
        """Copy a local file to a remote path (parent directory must exist)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def tunnel_info(profile: Profile) -> dict[str, Any]:
    """What a job record keeps to reconnect later (no secrets: the key's path, not the key)."""
    if profile.tunnel != "ssh":
        return {"kind": "local"}
    return {"kind": "ssh", "host": profile.get("host"), "user": profile.get("user"),
            "port": int(profile.get("port", 22)), "identity": profile.get("identity"),
            "known_hosts": profile.get("known_hosts"),
            "timeout": int(profile.get("ssh_timeout", 20))}


@attrs.define
class TunnelTransport:
    """A `Transport` over a NeMo-Run tunnel object (LocalTunnel or SSHTunnel)."""

    tunnel: Any
    local: bool

    def run(self, command: str) -> CommandResult:
        """Run through the tunnel with stdin closed (no prompt can ever wait for input)."""
        result = self.tunnel.run(command, hide=True, warn=True, in_stream=False)
        return CommandResult(int(result.return_code), str(result.stdout), str(result.stderr))

    def put(self, local: Path, remote: str) -> None:
        """Copy a file (LocalTunnel: shutil; SSHTunnel: SFTP)."""
        self.tunnel.put(str(local), remote)

    def close(self) -> None:
        """Close the SSH session, if any."""
        if not self.local:
            self.tunnel.cleanup()


@attrs.define
class LocalTransport:
    """The `tunnel = "local"` transport: what NeMo-Run's LocalTunnel does (run commands in a
    local shell, copy files), without importing nemo_run, whose import alone costs ~1 s of
    CPU (8 s on a loaded 2-core machine) on every submission and status query.
    """

    def run(self, command: str) -> CommandResult:
        """Run in bash with stdin closed."""
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, check=False)
        return CommandResult(result.returncode, result.stdout, result.stderr)

    def put(self, local: Path, remote: str) -> None:
        """Copy a file (no-op onto itself)."""
        if Path(remote).resolve() != local.resolve():
            shutil.copy2(local, remote)

    def close(self) -> None:
        """Nothing to release."""


def open_transport(info: dict[str, Any], *, profile: str | None = None,
                   job_dir: str = "") -> Transport:
    """Connect for a record's `tunnel` info: local shell, or NeMo-Run's SSHTunnel (SSH
    fails fast with a `TunnelError` and never prompts for a password)."""
    if info.get("kind") != "ssh":
        return LocalTransport()
    from nemo_run.core.tunnel.client import SSHTunnel

    host, user = str(info["host"]), str(info["user"])
    port, timeout = int(info.get("port") or 22), int(info.get("timeout") or 20)
    identity = info.get("identity")
    tunnel = SSHTunnel(host=host, user=user, port=port, job_dir=job_dir,
                       identity=str(identity) if identity else None)
    tunnel.session = _connect(host, user, port, identity, timeout, profile,
                              known_hosts=info.get("known_hosts"))
    return TunnelTransport(tunnel, local=False)


def _connect(host: str, user: str, port: int, identity: Any, timeout: int,
             profile: str | None, *, known_hosts: Any = None) -> Any:
    import paramiko  # type: ignore[import-untyped]  # pants: no-infer-dep (via nemo-run)
    from fabric import Config, Connection  # type: ignore[import-untyped]  # pants: no-infer-dep

    connect_kwargs: dict[str, Any] = {
        "banner_timeout": timeout, "auth_timeout": timeout,
        "allow_agent": False, "look_for_keys": identity is None,
    }
    if identity:
        key = Path(str(identity)).expanduser()
        if not key.is_file():
            raise TunnelError(f"SSH identity {key} for {user}@{host}:{port} does not exist",
                              host=host, port=port, user=user, profile=profile,
                              hint="fix `identity` in the profile")
        connect_kwargs["key_filename"] = [str(key)]
    connection = Connection(host, user=user, port=port, connect_kwargs=connect_kwargs,
                            connect_timeout=timeout, forward_agent=False,
                            config=Config(overrides={"run": {"in_stream": False}}))
    where = f"{host}:{port}" if port == 22 else f"[{host}]:{port}"  # known_hosts' spelling
    # Unset, Fabric still reads the user's file (a changed key there is refused too).
    listed = known_hosts or "~/.ssh/known_hosts"
    keyscan = f"ssh-keyscan -p {port} {host} >> {listed}"
    if known_hosts:  # strict checking, as OpenSSH's StrictHostKeyChecking=yes
        hosts_file = Path(str(known_hosts)).expanduser()
        if not hosts_file.is_file():
            raise TunnelError(f"known_hosts file {hosts_file} for {user}@{host}:{port} does "
                              "not exist", host=host, port=port, user=user, profile=profile,
                              hint=f"fix `known_hosts` in the profile, or create it: {keyscan}")
        connection.client.load_host_keys(str(hosts_file))
        connection.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        connection.open()
    except paramiko.BadHostKeyException:
        raise TunnelError(f"the host key of {where} does not match its line in {listed}",
                          host=host, port=port, user=user, profile=profile,
                          hint="if the login node's key really changed, replace the line: "
                               f"ssh-keygen -R '{where}' -f {listed} && {keyscan}"
                          ) from None
    except paramiko.AuthenticationException as exc:
        raise TunnelError(f"SSH key authentication to {user}@{host}:{port} failed ({exc})",
                          host=host, port=port, user=user, profile=profile,
                          hint="check `user` and `identity` in the profile; passwords are "
                               "never prompted for") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if known_hosts and "known_hosts" in reason:  # RejectPolicy: the host is not listed
            raise TunnelError(f"{where} is not in the known_hosts file {known_hosts}",
                              host=host, port=port, user=user, profile=profile,
                              hint=f"check `host`/`port`, or add its key: {keyscan}") from None
        raise TunnelError(f"cannot reach {user}@{host}:{port} over SSH within {timeout}s "
                          f"({reason})", host=host, port=port, user=user, profile=profile,
                          hint="check `host`/`port` and that the login node is up") from None
    return connection
