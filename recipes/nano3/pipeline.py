"""`pants run recipes/nano3:pipeline`: data prep -> pretrain -> SFT -> RL, then the lineage.

Runs every nano3 stage through kit-cli's one stage runner, each stage starting only after
the stages that produce its inputs have published them:

- no flag: locally, in dependency order; ends by printing the final model's lineage tree
  and the path of its offline HTML report (lineage graph, metric curves);
- `--run PROFILE`: each stage as an attached job, in order (the CLI waits for each);
- `--batch PROFILE`: all six jobs submitted at once, each with scheduler dependencies
  (`afterok`) on the jobs that produce its inputs, those inputs left unpinned until the job
  runs; exits 0 once all are submitted. A failed job's dependents never start (kit-run sets
  Slurm's `kill-on-invalid-dep`).

    pipeline [-c CONFIG] [--run PROFILE | --batch PROFILE] [--no-pex]
             [--set STAGE:KEY=VALUE ...]

`--set` applies one config override to one stage (the stages have different schemas, so
there are no pipeline-wide overrides); STAGE is `data-prep-pretrain`, `data-prep-sft`,
`data-prep-rl`, `pretrain`, `sft` or `rl`. With no arguments it runs the `tiny` configs
locally, on the embedded defaults: no env.toml, no W&B, no network.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Mapping, Sequence

from kit_cli import Recipe, StageLaunch, run_stage, run_stage_job
from nano3.recipe import RECIPE

__all__ = [
    "PIPELINE",
    "STAGE_IDS",
    "ChainStep",
    "PipelineJob",
    "chain_steps",
    "final_model_name",
    "main",
    "parse_sets",
    "run_pipeline",
    "source_recipe",
    "submit_pipeline",
]

# (stage as the CLI names it, what it publishes): the order is the dependency order.
PIPELINE: tuple[tuple[str, str], ...] = (
    ("data prep pretrain", "nano3-pretrain-data"),
    ("data prep sft", "nano3-sft-data"),
    ("data prep rl", "nano3-rl-data"),
    ("pretrain", "nano3-pretrain-model"),
    ("sft", "nano3-sft-model"),
    ("rl", "nano3-rl-model"),
)

# `--set` names a stage as its Pants target does (no spaces on a command line).
STAGE_IDS: dict[str, str] = {stage.replace(" ", "-"): stage for stage, _ in PIPELINE}

# The config key holding the name a stage publishes under (data prep: `name`).
_PUBLISH_KEY = {stage: "name" if stage.startswith("data prep") else "artifact_name"
                for stage, _ in PIPELINE}


@dataclasses.dataclass(frozen=True)
class ChainStep:
    """One stage of the pipeline as composed: what it publishes and what it reads."""

    stage: str
    publishes: str
    consumes: tuple[str, ...]
    overrides: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PipelineJob:
    """One submitted stage: its launch, the jobs it waits for and the inputs it defers."""

    stage: str
    publishes: str
    launch: StageLaunch
    after: tuple[str, ...]
    deferred: tuple[str, ...]


def final_model_name(config: str) -> str:
    """Registry name of the pipeline's last artifact: the RL model (`-tiny` for tiny runs)."""
    base = PIPELINE[-1][1]
    return base if config == "default" else f"{base}-{config}"


def parse_sets(values: Sequence[str]) -> dict[str, list[str]]:
    """`STAGE:KEY=VALUE` options -> overrides per CLI stage name; every problem reported.

    Raises kit-cli's `UsageError` naming each bad option (unknown stage, missing `:`, not an
    override) at once, so a user fixes them all in one go.
    """
    from kit_cli import parse_stage_argv
    from kit_cli.errors import UsageError

    per_stage: dict[str, list[str]] = {}
    problems: list[str] = []
    for value in values:
        stage_id, colon, override = value.partition(":")
        stage_id = stage_id.strip().replace("_", "-").replace(" ", "-")
        if not colon or not override:
            problems.append(f"--set {value!r}: expected STAGE:KEY=VALUE")
            continue
        if stage_id not in STAGE_IDS:
            problems.append(f"--set {value!r}: unknown stage {stage_id!r} "
                            f"(known: {', '.join(STAGE_IDS)})")
            continue
        try:
            parse_stage_argv([override])
        except UsageError as error:
            problems.append(f"--set {value!r}: {error.message}")
            continue
        if override.startswith("-") or "=" not in override and not override.startswith("~"):
            problems.append(f"--set {value!r}: {override!r} is not an override")
            continue
        per_stage.setdefault(STAGE_IDS[stage_id], []).append(override)
    if problems:
        raise UsageError("; ".join(problems), argument=" ".join(values),
                         hint="write --set STAGE:key.path=value, e.g. --set pretrain:"
                              "trainer.max_steps=4")
    return per_stage


def source_recipe(recipe: Recipe) -> Recipe:
    """`recipe` with no job PEX: jobs run `python -m MODULE` from the profile's PYTHONPATH.

    For clusters whose container already holds the recipe's code (and for tests of the
    job chain without Pants).
    """
    stages = tuple(dataclasses.replace(stage, job_target=None) for stage in recipe.stages)
    return dataclasses.replace(recipe, stages=stages)


def chain_steps(config: str, overrides: Mapping[str, Sequence[str]] | None = None,
                recipe: Recipe = RECIPE) -> list[ChainStep]:
    """Compose each stage's config (with its overrides) and read its output and inputs.

    Nothing runs and nothing is resolved. Every stage is composed before anything is
    submitted, so a bad config name or override fails the whole pipeline up front; the
    problems of all stages are reported together.
    """
    from omegaconf import OmegaConf

    from kit_artifacts import find_refs, parse_art_uri
    from kit_cli.errors import UsageError
    from kit_config import compose

    steps: list[ChainStep] = []
    problems: list[str] = []
    for stage_name, _ in PIPELINE:
        stage_overrides = tuple((overrides or {}).get(stage_name, ()))
        try:
            cfg = compose(recipe.stage(stage_name).resolve_config(config), stage_overrides)
            raw = OmegaConf.to_container(cfg, resolve=False)
        except Exception as error:  # every stage's problem is collected, then reported
            problems.append(f"stage '{stage_name}': {getattr(error, 'message', error)}")
            continue
        assert isinstance(raw, dict)
        key = _PUBLISH_KEY[stage_name]
        publishes = raw.get(key)
        if not isinstance(publishes, str) or not publishes or "${" in publishes:
            problems.append(f"stage '{stage_name}': config key {key!r} must name the artifact "
                            f"it publishes, got {publishes!r}")
            continue
        # kit-artifacts owns the reference grammar (`${art:...}` and `art://...`).
        consumes = tuple(dict.fromkeys(parse_art_uri(ref).name for ref in find_refs(raw)))
        steps.append(ChainStep(stage_name, publishes, consumes, stage_overrides))
    if problems:
        raise UsageError("; ".join(problems), argument=config,
                         hint="fix the config name or the --set overrides named above")
    return steps


def run_pipeline(config: str, profile: str | None = None, *,
                 overrides: Mapping[str, Sequence[str]] | None = None,
                 recipe: Recipe = RECIPE) -> int:
    """Run every stage in order (locally, or attached on `profile`); stop at the first failure."""
    timings: list[tuple[str, float]] = []
    for stage, _publishes in PIPELINE:
        argv = ["-c", config, *(overrides or {}).get(stage, ())]
        if profile is not None:
            argv += ["--run", profile]
        print(f"\n=== nano3 pipeline: {stage} ({config}) ===", flush=True)
        start = time.perf_counter()
        code = run_stage(recipe, stage, argv)
        timings.append((stage, time.perf_counter() - start))
        if code != 0:
            print(f"nano3 pipeline: stage '{stage}' failed with exit code {code}; "
                  "later stages were not started", file=sys.stderr)
            return code
    print("\n=== nano3 pipeline: wall time per stage ===")
    for stage, seconds in timings:
        print(f"{stage:<22} {seconds:8.1f} s")
    print(f"{'total':<22} {sum(s for _, s in timings):8.1f} s")
    return 0


def _cancel(jobs: Sequence[PipelineJob]) -> None:
    from kit_run import cancel_job

    for job in reversed(jobs):  # dependents first: none of them starts in between
        if job.launch.job_id is None:
            continue
        try:
            cancel_job(job.launch.job_id)
            print(f"nano3 pipeline: cancelled job {job.launch.job_id} ({job.stage})",
                  file=sys.stderr, flush=True)
        except Exception as error:  # report, keep cancelling the others
            print(f"nano3 pipeline: could not cancel job {job.launch.job_id} ({job.stage}): "
                  f"{error}; cancel it with `nemotron job cancel {job.launch.job_id}`",
                  file=sys.stderr, flush=True)


def submit_pipeline(config: str, profile: str, *,
                    overrides: Mapping[str, Sequence[str]] | None = None,
                    recipe: Recipe = RECIPE) -> tuple[int, list[PipelineJob]]:
    """Submit all six stages at once, chained by job dependencies; (exit code, jobs).

    Each stage waits (`after`) for the jobs publishing the artifacts its config reads, and
    defers those inputs (the job pins them when it runs). If a submission fails, the jobs
    already submitted are cancelled, so no half pipeline is left queued.
    """
    steps = chain_steps(config, overrides, recipe)
    producer: dict[str, PipelineJob] = {}
    jobs: list[PipelineJob] = []
    for step in steps:
        upstream = [producer[name] for name in step.consumes if name in producer]
        after = tuple(dict.fromkeys(str(job.launch.job_id) for job in upstream))
        deferred = tuple(name for name in step.consumes if name in producer)
        print(f"\n=== nano3 pipeline: submitting {step.stage} ({config}) ===", flush=True)
        launch = run_stage_job(recipe, step.stage, ["-c", config, "--batch", profile,
                                                    *step.overrides],
                               after=after, defer_inputs=deferred)
        if not launch.ok or launch.job_id is None:
            print(f"nano3 pipeline: submitting '{step.stage}' failed (exit code "
                  f"{launch.exit_code}); cancelling the {len(jobs)} job(s) already submitted",
                  file=sys.stderr, flush=True)
            _cancel(jobs)
            return (launch.exit_code or 1), jobs
        job = PipelineJob(step.stage, step.publishes, launch, after, deferred)
        producer[step.publishes] = job
        jobs.append(job)
    _print_submitted(profile, jobs)
    return 0, jobs


def _print_submitted(profile: str, jobs: Sequence[PipelineJob]) -> None:
    print(f"\n=== nano3 pipeline: {len(jobs)} jobs submitted to profile '{profile}' ===")
    for job in jobs:
        slurm = f" (Slurm {job.launch.scheduler_id})" if job.launch.scheduler_id else ""
        waits = f" after {', '.join(job.after)}" if job.after else ""
        print(f"{job.stage:<20} job {job.launch.job_id}{slurm} run {job.launch.run_id}"
              f" -> {job.publishes}{waits}")
    print("\nfollow them with:")
    for job in jobs:
        print(f"  nemotron job status {job.launch.job_id}   "
              f"nemotron job logs {job.launch.job_id}   # {job.stage}")
    print(f"\nwhen the last job is done: nemotron art lineage art://{jobs[-1].publishes}:latest",
          flush=True)


def _check_job_code(profile: str | None, no_pex: bool) -> None:
    """Refuse `NEMOTRON_JOB_PEX` for remote pipelines: one PEX cannot run six stage modules."""
    from kit_cli.errors import UsageError

    if profile is not None and not no_pex and os.environ.get("NEMOTRON_JOB_PEX"):
        raise UsageError(
            f"NEMOTRON_JOB_PEX={os.environ['NEMOTRON_JOB_PEX']} names one PEX, but the "
            "pipeline's six jobs each run a different stage module",
            argument="NEMOTRON_JOB_PEX",
            hint="unset it (each stage's job PEX is built from its Pants target), or pass "
                 "--no-pex when the cluster already has the code",
        )


def _print_lineage(name: str) -> int:
    from kit_cli.main import main as nemotron

    print(f"\n=== lineage of art://{name}:latest ===", flush=True)
    try:
        nemotron(["art", "lineage", f"art://{name}:latest"])
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def _write_report(name: str) -> int:
    from kit_cli import write_art_report
    from kit_cli._runner import report_error

    try:
        path = write_art_report(f"art://{name}:latest")
    except Exception as error:
        return report_error(error)
    print(f"\n=== report of art://{name}:latest (opens offline in a browser) ===\n{path}",
          flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nano3-pipeline",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-c", "--config", default="tiny",
                        help="config name used for every stage (default: tiny)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-r", "--run", dest="run", default=None, metavar="PROFILE",
                       help="run each stage as an attached job on PROFILE, in order")
    where.add_argument("-b", "--batch", dest="batch", default=None, metavar="PROFILE",
                       help="submit all stages at once on PROFILE, chained by job "
                            "dependencies, and return")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="STAGE:KEY=VALUE",
                        help=f"config override for one stage ({', '.join(STAGE_IDS)}); "
                             "repeatable")
    parser.add_argument("--no-pex", action="store_true",
                        help="ship no PEX: jobs run `python -m MODULE` with the code the "
                             "profile's environment (PYTHONPATH, container) already has")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the pipeline's options and run it; exits with the first failing code."""
    from kit_cli._runner import report_error

    args = _parser().parse_args(argv)
    recipe = source_recipe(RECIPE) if args.no_pex else RECIPE
    try:
        overrides = parse_sets(args.sets)
        _check_job_code(args.batch or args.run, args.no_pex)
        if args.batch is not None:
            code, _jobs = submit_pipeline(args.config, args.batch, overrides=overrides,
                                          recipe=recipe)
            sys.exit(code)
        # Every stage's config is checked up front; the last step names the final model.
        final = chain_steps(args.config, overrides, recipe)[-1].publishes
    except Exception as error:
        sys.exit(report_error(error))
    code = run_pipeline(args.config, args.run, overrides=overrides, recipe=recipe)
    if code == 0:
        code = _print_lineage(final)
    if code == 0:
        code = _write_report(final)
    sys.exit(code)


if __name__ == "__main__":
    main()
