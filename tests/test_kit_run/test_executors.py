"""build_executor for every executor, missing extras, NeMo-Run dry runs and real refusals."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kit_run
from kit_run import (
    ExecutorUnavailableError,
    JobSpec,
    SubmissionError,
    build_executor,
    profile_from_mapping,
    submit,
)

IMAGE = "nvcr.io/nvidia/nemo:25.01"
PROFILES: dict[str, dict[str, Any]] = {
    "local": {"executor": "local", "ntasks_per_node": 2},
    "slurm-local": {"executor": "slurm", "account": "acct", "partition": "batch",
                    "nodes": 2, "gpus_per_node": 8, "time": "02:00:00"},
    "slurm-ssh": {"executor": "slurm", "account": "acct", "tunnel": "ssh",
                  "host": "login.example", "user": "me", "port": 2222,
                  "remote_job_dir": "/lustre/me/jobs"},
    "docker": {"executor": "docker", "container_image": IMAGE, "num_gpus": 1,
               "volumes": ["/data:/data"]},
    "skypilot": {"executor": "skypilot", "container_image": IMAGE, "cloud": "aws",
                 "gpus": "H100:8"},
    "lepton": {"executor": "lepton", "container_image": IMAGE, "nemo_run_dir": "/mnt/nr",
               "resource_shape": "gpu.8xh100", "node_group": "ng"},
    "dgxcloud": {"executor": "dgxcloud", "container_image": IMAGE,
                 "base_url": "http://127.0.0.1:1/api/v1",
                 "kube_apiserver_url": "https://k8s.example", "client_id": "cid",
                 "project_name": "proj", "pvc_nemo_run_dir": "/pvc/nr",
                 "pvcs": [{"path": "/pvc", "claimName": "claim"}]},
}
HAS_SKY = importlib.util.find_spec("sky") is not None


def _profile(key: str) -> kit_run.Profile:
    return profile_from_mapping(key, PROFILES[key])


@pytest.mark.parametrize(("key", "cls", "fields"), [
    pytest.param("local", "LocalExecutor", {"ntasks_per_node": 2}, id="local"),
    pytest.param("slurm-local", "SlurmExecutor",
                 {"account": "acct", "partition": "batch", "nodes": 2, "gpus_per_node": 8,
                  "time": "02:00:00"}, id="slurm-local-tunnel"),
    pytest.param("slurm-ssh", "SlurmExecutor", {"account": "acct"}, id="slurm-ssh-tunnel"),
    pytest.param("docker", "DockerExecutor",
                 {"container_image": IMAGE, "num_gpus": 1, "volumes": ["/data:/data"]},
                 id="docker"),
    pytest.param("lepton", "LeptonExecutor",
                 {"container_image": IMAGE, "nemo_run_dir": "/mnt/nr",
                  "resource_shape": "gpu.8xh100"}, id="lepton"),
    pytest.param("dgxcloud", "DGXCloudExecutor",
                 {"client_id": "cid", "project_name": "proj", "client_secret": "s3cr3t-dgx"},
                 id="dgxcloud"),
])
def test_build_executor_maps_profile_fields(key: str, cls: str, fields: dict[str, Any]) -> None:
    """Each executor kind becomes the NeMo-Run executor with the profile's settings."""
    executor = build_executor(_profile(key), secrets={"DGXCLOUD_CLIENT_SECRET": "s3cr3t-dgx"})
    assert type(executor).__name__ == cls
    for name, value in fields.items():
        assert getattr(executor, name) == value, name


def test_build_executor_tunnels() -> None:
    """Slurm profiles get a LocalTunnel or an SSHTunnel with host, user, port and job dir."""
    local = build_executor(_profile("slurm-local"))
    ssh = build_executor(_profile("slurm-ssh"))
    assert type(local.tunnel).__name__ == "LocalTunnel"
    assert type(ssh.tunnel).__name__ == "SSHTunnel"
    assert (ssh.tunnel.host, ssh.tunnel.user, ssh.tunnel.port, ssh.tunnel.job_dir) == (
        "login.example", "me", 2222, "/lustre/me/jobs")


@pytest.mark.skipif(not HAS_SKY, reason="skypilot extra not installed here")
def test_build_executor_skypilot() -> None:
    """With the skypilot extra, a SkypilotExecutor is built."""
    assert type(build_executor(_profile("skypilot"))).__name__ == "SkypilotExecutor"


@pytest.mark.parametrize(("executor", "module", "install"), [
    pytest.param("docker", "docker", "pip install docker", id="docker-client"),
    pytest.param("lepton", "leptonai", "leptonai<0.47", id="lepton-client"),
    pytest.param("dgxcloud", "requests", "pip install requests", id="dgxcloud-requests"),
    pytest.param("skypilot", "sky", "nemo-run[skypilot]", id="skypilot-extra"),
    pytest.param("slurm", "nemo_run", "nemo-run==0.11.1", id="nemo-run-itself"),
])
def test_missing_extra_names_what_to_install(monkeypatch: pytest.MonkeyPatch, executor: str,
                                             module: str, install: str) -> None:
    """A missing client module gives ExecutorUnavailableError naming the package to install."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(ExecutorUnavailableError, match="not installed") as info:
        kit_run.check_executor_available(executor)
    assert install in info.value.install and install in str(info.value)
    assert info.value.executor == executor and isinstance(info.value, ImportError)


@pytest.mark.skipif(HAS_SKY, reason="the skypilot extra is installed here")
def test_skypilot_without_extra_fails_submit_and_dry_run_clearly() -> None:
    """Without `sky` (really absent here), submit and dry run both name the extra."""
    for dry in (True, False):
        with pytest.raises(ExecutorUnavailableError, match=r"nemo-run\[skypilot\]"):
            submit(JobSpec("x", ["true"]), _profile("skypilot"), attached=False, dry_run=dry)


@pytest.mark.parametrize(("key", "expected"), [
    pytest.param("docker", ["DockerExecutor", "container_image: " + IMAGE, "/data:/data"],
                 id="docker"),
    pytest.param("lepton", ["Lepton job for app", "resource_shape='gpu.8xh100'"],
                 id="lepton"),
    pytest.param("dgxcloud", ["DGX job for app", "project_name='proj'",
                              "client_secret='***'"], id="dgxcloud"),
])
def test_nemo_run_dry_run_offline(key: str, expected: list[str], _nemotron_home: Path) -> None:
    """Dry runs of Docker/Lepton/DGX Cloud show kit's scripts and NeMo-Run's own dry run,
    write nothing and show no secret."""
    secrets = {"DGXCLOUD_CLIENT_SECRET": "dgx-client-sekrit"} if key == "dgxcloud" else {}
    if key == "docker":
        secrets["WANDB_API_KEY"] = "wandb-sekrit-value"
    handle = submit(JobSpec("stage", ["python", "-m", "nano3.sft"]), _profile(key),
                    attached=False, dry_run=True, secrets=secrets)
    text = handle.dry_run_text or ""
    flat = " ".join(text.split())
    assert "# ----- launch.sh -----" in text and "cd /nemo_run/kit" in text
    assert f"NeMo-Run {key} dry run" in text
    for item in expected:
        assert item in flat, item
    assert "sekrit" not in text
    assert not (_nemotron_home / "jobs").exists()


@pytest.mark.parametrize("key", [pytest.param("lepton", id="lepton"),
                                 pytest.param("dgxcloud", id="dgxcloud")])
def test_job_secrets_refused_where_no_private_file_exists(key: str) -> None:
    """Lepton/DGX Cloud ship the job dir in the workload spec: job secrets are refused."""
    with pytest.raises(SubmissionError, match="cannot hand secrets") as info:
        submit(JobSpec("x", ["true"]), _profile(key), attached=False,
               secrets={"HF_TOKEN": "hf-sekrit"})
    assert "hf-sekrit" not in str(info.value) and info.value.profile == key


def _docker_engine_up() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # pants: no-infer-dep

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


_REAL_SUBMITS: dict[str, dict[str, str]] = {
    "docker": {}, "lepton": {}, "dgxcloud": {"DGXCLOUD_CLIENT_SECRET": "dgx-sekrit"}}


@pytest.fixture(scope="module")
def real_submit_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Submit to Docker, Lepton and DGX Cloud from one fresh process with an empty HOME (no
    cloud logins, no Docker socket): the CLI's situation on a machine without them."""
    tmp = tmp_path_factory.mktemp("real-submit")
    code = ("import json, sys, kit_run\n"
            "out = {}\n"
            "for key, (settings, secrets) in json.loads(sys.argv[1]).items():\n"
            "    p = kit_run.profile_from_mapping(key, settings)\n"
            "    try:\n"
            "        kit_run.submit(kit_run.JobSpec('x', ['true']), p, attached=False,\n"
            "                       secrets=secrets)\n"
            "        out[key] = {'type': 'none', 'msg': ''}\n"
            "    except kit_run.RunError as e:\n"
            "        out[key] = {'type': type(e).__name__, 'msg': str(e)}\n"
            "print(json.dumps(out))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEPTON", "DOCKER_"))}
    env.update(HOME=str(tmp / "home"), LEPTON_CACHE_DIR=str(tmp / "lepton"),
               NEMOTRON_HOME=str(tmp / "nemotron"),
               DOCKER_HOST=f"unix://{tmp}/no-docker.sock")
    cases = {k: (PROFILES[k], v) for k, v in _REAL_SUBMITS.items()}
    result = subprocess.run([sys.executable, "-c", code, json.dumps(cases)], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    errors = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    errors["_jobs"] = sorted(p.name for p in (tmp / "nemotron" / "jobs").glob("*.json"))
    return errors


@pytest.mark.parametrize(("key", "match"), [
    pytest.param("docker", "Docker engine is not reachable", id="docker-no-engine"),
    pytest.param("lepton", "lep login", id="lepton-not-logged-in"),
    pytest.param("dgxcloud", "DGX Cloud API http://127.0.0.1:1/api/v1 is not reachable",
                 id="dgxcloud-api-down"),
])
def test_real_submission_without_engine_or_cloud_fails_clearly(
        key: str, match: str, real_submit_errors: dict[str, Any]) -> None:
    """A real submission with no engine/cloud fails with one SubmissionError line, records
    no job and shows no secret."""
    error = real_submit_errors[key]
    assert error["type"] == "SubmissionError" and match in error["msg"], error
    assert "\n" not in error["msg"] and "dgx-sekrit" not in error["msg"]
    assert real_submit_errors["_jobs"] == []


def test_docker_failure_is_clean_in_process(tmp_path: Path, _nemotron_home: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process too: the refused Docker submission leaves no staging dir or record."""
    if _docker_engine_up() and "DOCKER_HOST" not in os.environ:
        pytest.skip("a Docker engine is running here")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(SubmissionError, match="Docker engine is not reachable"):
        submit(JobSpec("x", ["true"]), _profile("docker"), attached=False)
    leftovers = list((_nemotron_home / "jobs").iterdir()) if (
        _nemotron_home / "jobs").exists() else []
    assert leftovers == []


def test_unknown_backend_kind_is_an_error() -> None:
    """A job record naming a backend kit-run does not have fails with SubmissionError."""
    from kit_run._submit import backend_for

    with pytest.raises(SubmissionError, match="no backend for 'kubeflow'"):
        backend_for("kubeflow")
