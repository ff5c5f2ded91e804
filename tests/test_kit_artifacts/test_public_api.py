"""The package's public surface is exactly the documented one."""

from __future__ import annotations

import importlib
import pkgutil

import kit_artifacts

DOCUMENTED = [
    "ArtURI",
    "Artifact",
    "ArtifactError",
    "ArtifactMetadataError",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactRegistry",
    "ArtifactTypeError",
    "ArtifactURIError",
    "FsspecStorage",
    "GcReport",
    "InputDatasetInfo",
    "IntegrityError",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "LocalStorage",
    "Manifest",
    "MemoryStorage",
    "ModelArtifact",
    "PinnedInput",
    "PretrainBlendsArtifact",
    "RegistryError",
    "SFTDataArtifact",
    "SplitJsonlDataArtifact",
    "Storage",
    "VerifyReport",
    "VersionRecord",
    "WandbArtURI",
    "artifact_type",
    "artifact_types",
    "clear_pins",
    "escape_refs",
    "find_refs",
    "gc",
    "get_registry",
    "hooks",
    "lineage",
    "parse_art_uri",
    "pin_refs",
    "pinned_refs",
    "register_artifact_type",
    "register_remote_resolver",
    "resolve_art",
    "verify",
]


def test_package_all_is_exact_and_sorted() -> None:
    """`__all__` equals the documented list, is sorted, and every name imports."""
    assert kit_artifacts.__all__ == DOCUMENTED
    assert sorted(kit_artifacts.__all__) == kit_artifacts.__all__
    for name in kit_artifacts.__all__:
        assert getattr(kit_artifacts, name) is not None


def test_every_module_has_sorted_all() -> None:
    """Each module of the package declares a sorted, duplicate-free `__all__` of real names."""
    for info in pkgutil.iter_modules(kit_artifacts.__path__):
        module = importlib.import_module(f"kit_artifacts.{info.name}")
        names = module.__all__
        assert names == sorted(names), info.name
        assert len(set(names)) == len(names), info.name
        for name in names:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_hooks_contract_names() -> None:
    """The hooks module offers the exact names kit-track codes against (CONTRACTS.md)."""
    from kit_artifacts import hooks

    for name in (
        "ArtifactEvent",
        "ArtifactListener",
        "Producer",
        "add_listener",
        "current_producer",
        "emit",
        "set_producer_provider",
        "used_inputs",
        "register_remote_resolver",
    ):
        assert hasattr(hooks, name), name


def test_errors_root_in_kit_error_and_builtins() -> None:
    """Every error derives from KitError through ArtifactError and from its builtin."""
    from kit_artifacts import errors
    from kit_config.errors import KitError

    pairs = {
        errors.ArtifactNotFoundError: LookupError,
        errors.ArtifactURIError: ValueError,
        errors.ArtifactTypeError: TypeError,
        errors.ArtifactMetadataError: ValueError,
        errors.RegistryError: OSError,
        errors.IntegrityError: ValueError,
    }
    for cls, builtin in pairs.items():
        assert issubclass(cls, errors.ArtifactError)
        assert issubclass(cls, KitError)
        assert issubclass(cls, builtin)


def test_import_is_light() -> None:
    """Importing kit_artifacts pulls in none of the heavy optional libraries."""
    import subprocess
    import sys

    code = (
        "import sys, kit_artifacts; heavy = [m for m in "
        "('nemo_run','wandb','mlflow','torch','boto3',"
        "'s3fs','pyarrow','tokenizers','xxhash','fsspec') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
