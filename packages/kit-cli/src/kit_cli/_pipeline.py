"""A recipe's stages as one pipeline: plan (and check) every stage, then run or submit them.

    pipeline [-c CONFIG] [--run PROFILE | --batch PROFILE] [--no-pex] [--set STAGE:KEY=VALUE ...]

- no flag: every stage locally, in order; ends by printing the last artifact's lineage;
- `--run PROFILE`: each stage as an attached job, in order;
- `--batch PROFILE`: all jobs submitted at once, each waiting (`afterok`) on the jobs that
  produce its inputs, those inputs left unpinned until the job runs. If a submission fails,
  the jobs already queued are cancelled.

Every stage is composed, pinned and checked against its typed config ONCE, before the first
stage runs or is submitted, so a bad `--set` of the last stage queues nothing. A stage
publishes under its config's `artifact_name`; it consumes the artifacts its config refers
to (`${art:NAME}`, `art://NAME`), which is how the chain is found.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Mapping, Sequence

import attrs

from kit_cli._argv import parse_stage_argv
from kit_cli._plan import StagePlan, plan_stage
from kit_cli._runner import StageLaunch, launch_plan, report_error
from kit_cli.recipe import Recipe

__all__ = ["Pipeline", "PipelineJob", "PipelineStep"]

PUBLISH_KEY = "artifact_name"


@attrs.frozen
class PipelineStep:
    """One stage as planned: its checked plan, what it publishes and what it reads."""

    plan: StagePlan
    publishes: str
    consumes: tuple[str, ...]

    @property
    def stage(self) -> str:
        """The stage as the CLI names it (`data prep pretrain`)."""
        return " ".join(self.plan.stage.command_path)


@attrs.frozen
class PipelineJob:
    """One submitted stage: its launch, the jobs it waits for and the inputs it defers."""

    stage: str
    publishes: str
    launch: StageLaunch
    after: tuple[str, ...]
    deferred: tuple[str, ...]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@attrs.frozen
class Pipeline:
    """`stages` of `recipe` (CLI names, in dependency order) run as one pipeline."""

    recipe: Recipe
    stages: tuple[str, ...]
    default_config: str = "default"

    @property
    def stage_ids(self) -> dict[str, str]:
        """`--set` names a stage without spaces (`data-prep-pretrain`) -> its CLI name."""
        return {stage.replace(" ", "-"): stage for stage in self.stages}

    def parse_sets(self, values: Sequence[str]) -> dict[str, list[str]]:
        """`STAGE:KEY=VALUE` options -> overrides per stage; every bad option reported at once."""
        from kit_cli.errors import UsageError

        per_stage: dict[str, list[str]] = {}
        problems: list[str] = []
        for value in values:
            stage_id, colon, override = value.partition(":")
            stage_id = stage_id.strip().replace("_", "-").replace(" ", "-")
            if not colon or not override:
                problems.append(f"--set {value!r}: expected STAGE:KEY=VALUE")
            elif stage_id not in self.stage_ids:
                problems.append(f"--set {value!r}: unknown stage {stage_id!r} "
                                f"(known: {', '.join(self.stage_ids)})")
            elif override.startswith("-") or "=" not in override and not override.startswith("~"):
                problems.append(f"--set {value!r}: {override!r} is not an override")
            else:
                try:
                    parse_stage_argv([override])
                except UsageError as error:
                    problems.append(f"--set {value!r}: {error.message}")
                    continue
                per_stage.setdefault(self.stage_ids[stage_id], []).append(override)
        if problems:
            raise UsageError("; ".join(problems), argument=" ".join(values),
                             hint="write --set STAGE:key.path=value, e.g. --set "
                                  f"{next(iter(self.stage_ids))}:KEY=VALUE")
        return per_stage

    def plan(self, config: str, profile: str | None = None, *, attached: bool = True,
             overrides: Mapping[str, Sequence[str]] | None = None) -> list[PipelineStep]:
        """Compose, pin and check every stage now; inputs published upstream stay deferred.

        Nothing runs and nothing is written. The problems of all stages are reported
        together (`UsageError`, exit code 2).
        """
        from kit_cli.errors import UsageError
        from kit_config.errors import KitError

        steps: list[PipelineStep] = []
        problems: list[str] = []
        published: list[str] = []
        for name in self.stages:
            argv = ["-c", config, *(overrides or {}).get(name, ())]
            if profile is not None:
                argv += ["--run" if attached else "--batch", profile]
            try:
                plan = plan_stage(self.recipe, self.recipe.stage(name), parse_stage_argv(argv),
                                  argv, defer_inputs=published)
            except KitError as error:
                problems.append(f"stage '{name}': {error}")
                # Still defer what it would publish: its dependents' own problems show too.
                published.append(self._publishes(name, config, (overrides or {}).get(name, ())))
                continue
            publishes = plan.config.get(PUBLISH_KEY) if isinstance(plan.config, dict) else None
            if not isinstance(publishes, str) or not publishes or "${" in publishes:
                problems.append(f"stage '{name}': config key {PUBLISH_KEY!r} must name the "
                                f"artifact it publishes, got {publishes!r}")
                continue
            published.append(publishes)
            consumes = tuple(dict.fromkeys(item.name for item in plan.inputs))
            steps.append(PipelineStep(plan, publishes, consumes))
        if problems:
            raise UsageError("; ".join(problems), argument=config,
                             hint="fix the config name or the --set overrides named above")
        return steps

    def _publishes(self, name: str, config: str, overrides: Sequence[str]) -> str:
        """Best effort, for a stage that failed to plan: its `artifact_name`, or ''."""
        from kit_config import compose

        stage = self.recipe.stage(name)
        try:
            composed = compose(stage.resolve_config(config), overrides,
                               schema=stage.config_class())
            return str(composed.get(PUBLISH_KEY) or "")
        except Exception:  # the stage's error is reported already
            return ""

    def run(self, steps: Sequence[PipelineStep]) -> int:
        """Run planned `steps` in order (locally or attached); stop at the first failure.

        Inputs deferred at plan time exist once their producer has run: each stage pins them
        just before it starts, so its launch record names exact versions.
        """
        timings: list[tuple[str, float]] = []
        for step in steps:
            print(f"\n=== {self.recipe.name} pipeline: {step.stage} ===", flush=True)
            start = time.perf_counter()
            try:
                launch = launch_plan(_pin_now(step.plan))
            except Exception as error:
                return report_error(error)
            timings.append((step.stage, time.perf_counter() - start))
            if not launch.ok:
                _say(f"{self.recipe.name} pipeline: stage '{step.stage}' failed with exit code "
                     f"{launch.stage_exit_code}; later stages were not started")
                return launch.exit_code
        print(f"\n=== {self.recipe.name} pipeline: wall time per stage ===")
        for stage, seconds in timings:
            print(f"{stage:<22} {seconds:8.1f} s")
        print(f"{'total':<22} {sum(s for _, s in timings):8.1f} s", flush=True)
        return 0

    def submit(self, steps: Sequence[PipelineStep]) -> tuple[int, list[PipelineJob]]:
        """Submit planned batch `steps` at once, chained by job dependencies; (code, jobs).

        If a submission fails, the jobs already submitted are cancelled, so no half pipeline
        is left queued.
        """
        producer: dict[str, PipelineJob] = {}
        jobs: list[PipelineJob] = []
        for step in steps:
            upstream = [producer[name] for name in step.consumes if name in producer]
            after = tuple(dict.fromkeys(str(job.launch.job_id) for job in upstream))
            print(f"\n=== {self.recipe.name} pipeline: submitting {step.stage} ===", flush=True)
            try:
                launch = launch_plan(attrs.evolve(step.plan, after=after))
            except Exception as error:
                launch = StageLaunch(exit_code=report_error(error), mode="batch")
            if not launch.ok or launch.job_id is None:
                _say(f"{self.recipe.name} pipeline: submitting '{step.stage}' failed (exit code "
                     f"{launch.exit_code}); cancelling the {len(jobs)} job(s) already submitted")
                _cancel(jobs)
                return (launch.exit_code or 1), jobs
            job = PipelineJob(step.stage, step.publishes, launch, after, step.plan.deferred)
            producer[step.publishes] = job
            jobs.append(job)
        _print_submitted(self.recipe.name, steps[0].plan.args.profile if steps else "", jobs)
        return 0, jobs

    def main(self, argv: Sequence[str] | None = None) -> int:
        """The pipeline's command line (see the module doc); returns the exit code."""
        args = _parser(self).parse_args(argv)
        pipeline = attrs.evolve(self, recipe=source_recipe(self.recipe)) if args.no_pex else self
        profile = args.batch or args.run
        try:
            _check_job_code(profile, args.no_pex)
            steps = pipeline.plan(args.config, profile, attached=args.batch is None,
                                  overrides=pipeline.parse_sets(args.sets))
            if args.batch is not None:
                return pipeline.submit(steps)[0]
        except Exception as error:
            return report_error(error)
        code = pipeline.run(steps)
        if code != 0 or not steps:
            return code
        return _print_lineage(steps[-1].publishes) or _write_report(steps[-1].publishes)


def _pin_now(plan: StagePlan) -> StagePlan:
    """`plan` with its deferred inputs pinned to the versions that exist now."""
    if not plan.deferred:
        return plan
    from kit_artifacts import pin_refs

    pinned, inputs = pin_refs(plan.config, fixed=plan.pins)
    return attrs.evolve(plan, config=pinned, inputs=tuple(inputs))


def source_recipe(recipe: Recipe) -> Recipe:
    """`recipe` with no job PEX: jobs run `python -m MODULE` from the profile's PYTHONPATH.

    For clusters whose container already holds the recipe's code (and for tests of the
    job chain without Pants).
    """
    stages = tuple(dataclasses.replace(stage, job_target=None) for stage in recipe.stages)
    return dataclasses.replace(recipe, stages=stages)


def _cancel(jobs: Sequence[PipelineJob]) -> None:
    from kit_run import cancel_job

    for job in reversed(jobs):  # dependents first: none of them starts in between
        if job.launch.job_id is None:
            continue
        try:
            cancel_job(job.launch.job_id)
            _say(f"pipeline: cancelled job {job.launch.job_id} ({job.stage})")
        except Exception as error:  # report, keep cancelling the others
            _say(f"pipeline: could not cancel job {job.launch.job_id} ({job.stage}): {error}; "
                 f"cancel it with `nemotron job cancel {job.launch.job_id}`")


def _print_submitted(recipe: str, profile: str | None, jobs: Sequence[PipelineJob]) -> None:
    print(f"\n=== {recipe} pipeline: {len(jobs)} jobs submitted to profile '{profile}' ===")
    for job in jobs:
        slurm = f" (Slurm {job.launch.scheduler_id})" if job.launch.scheduler_id else ""
        waits = f" after {', '.join(job.after)}" if job.after else ""
        print(f"{job.stage:<20} job {job.launch.job_id}{slurm} run {job.launch.run_id}"
              f" -> {job.publishes}{waits}")
    print("\nfollow them with:")
    for job in jobs:
        print(f"  nemotron job status {job.launch.job_id}   "
              f"nemotron job logs {job.launch.job_id}   # {job.stage}")
    if jobs:
        print("\nwhen the last job is done: nemotron art lineage "
              f"art://{jobs[-1].publishes}:latest", flush=True)


def _check_job_code(profile: str | None, no_pex: bool) -> None:
    """Refuse `NEMOTRON_JOB_PEX` for remote pipelines: one PEX cannot run every stage module."""
    from kit_cli.errors import UsageError

    if profile is not None and not no_pex and os.environ.get("NEMOTRON_JOB_PEX"):
        raise UsageError(
            f"NEMOTRON_JOB_PEX={os.environ['NEMOTRON_JOB_PEX']} names one PEX, but the "
            "pipeline's jobs each run a different stage module",
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
    """Write the final model's offline HTML report (lineage graph, metric curves); its path."""
    from kit_cli._report import write_art_report

    try:
        path = write_art_report(f"art://{name}:latest")
    except Exception as error:
        return report_error(error)
    print(f"\n=== report of art://{name}:latest (opens offline in a browser) ===\n{path}",
          flush=True)
    return 0


def _parser(pipeline: Pipeline) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{pipeline.recipe.name}-pipeline",
        description=f"{pipeline.recipe.name}: {' -> '.join(pipeline.stages)}")
    parser.add_argument("-c", "--config", default=pipeline.default_config,
                        help=f"config name used for every stage (default: "
                             f"{pipeline.default_config})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-r", "--run", dest="run", default=None, metavar="PROFILE",
                       help="run each stage as an attached job on PROFILE, in order")
    where.add_argument("-b", "--batch", dest="batch", default=None, metavar="PROFILE",
                       help="submit all stages at once on PROFILE, chained by job "
                            "dependencies, and return")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="STAGE:KEY=VALUE",
                        help=f"config override for one stage ({', '.join(pipeline.stage_ids)}); "
                             "repeatable")
    parser.add_argument("--no-pex", action="store_true",
                        help="ship no PEX: jobs run `python -m MODULE` with the code the "
                             "profile's environment (PYTHONPATH, container) already has")
    return parser
