"""Pants plugin: each kit package's version, long description and common metadata.

Why a plugin: BUILD files cannot read files, and each package's version must live in exactly
one place, the `VERSION` file next to its `python_distribution`. This rule reads `VERSION`
and `README.md` from the distribution's folder and fills the setup() kwargs from them.
"""
from __future__ import annotations

from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.util_rules.package_dists import SetupKwargs, SetupKwargsRequest
from pants.engine.fs import DigestContents, GlobMatchErrorBehavior, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import Target
from pants.engine.unions import UnionRule


class KitSetupKwargsRequest(SetupKwargsRequest):
    @classmethod
    def is_applicable(cls, _: Target) -> bool:
        return True


@rule
async def kit_setup_kwargs(request: KitSetupKwargsRequest, python: PythonSetup) -> SetupKwargs:
    folder = request.target.address.spec_path
    contents = await Get(
        DigestContents,
        PathGlobs(
            [f"{folder}/VERSION", f"{folder}/README.md"],
            glob_match_error_behavior=GlobMatchErrorBehavior.error,
            description_of_origin=f"the python_distribution in {folder}/BUILD",
        ),
    )
    files = {fc.path.rsplit("/", 1)[-1]: fc.content.decode("utf-8") for fc in contents}
    version = files["VERSION"].strip()
    if not version:
        raise ValueError(f"{folder}/VERSION is empty: write the package version in it, e.g. 0.1.0")
    kwargs = dict(request.explicit_kwargs)
    if "version" in kwargs:
        raise ValueError(
            f"{folder}/BUILD sets version=; remove it, the version comes from {folder}/VERSION only"
        )
    kwargs.update(
        version=version,
        long_description=files.get("README.md", ""),
        long_description_content_type="text/markdown",
        python_requires=python_requires(python.interpreter_constraints),
        license="Apache-2.0",
        zip_safe=False,
    )
    kwargs.setdefault("author", "Nemotron Kit developers")
    return SetupKwargs(kwargs, address=request.target.address)


def python_requires(constraints: tuple[str, ...]) -> str:
    """`Requires-Python` from the repo's interpreter constraints (`CPython==3.11.*` -> `==3.11.*`).

    The wheels claim exactly the Pythons the code is tested on: the code needs 3.11 (`datetime.UTC`)
    and megatron-core 0.16.1 is the last release for it.
    """
    if len(constraints) != 1:
        raise ValueError(f"expected one [python].interpreter_constraints entry, got {constraints}")
    spec = constraints[0].strip()
    for prefix in ("CPython", "cpython"):
        spec = spec.removeprefix(prefix)
    return spec.strip()


def rules():  # type: ignore[no-untyped-def]
    return [*collect_rules(), UnionRule(SetupKwargsRequest, KitSetupKwargsRequest)]
