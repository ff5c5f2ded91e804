"""The one launcher binary behind `./pants run recipes/nano3:<name> -- ARGS`.

Every launcher target in ./BUILD runs this same PEX with its name first (`launcher.pex
pretrain -c tiny ...`), so all of them share one built set of third-party requirements: after
any launcher was built, another starts in seconds. A stage name hands the arguments to kit-cli's
one stage runner (compose the config, pin `${art:...}` inputs, save provenance, then run the
stage module here or submit it with `--run/--batch PROFILE`); the exit code passes through.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["LAUNCHERS", "main"]

# Launcher name -> the stage's command words; `pipeline` and `nemotron` are handled in main().
LAUNCHERS = {
    "pretrain": "pretrain",
    "sft": "sft",
    "rl": "rl",
    "data-prep-pretrain": "data prep pretrain",
    "data-prep-sft": "data prep sft",
    "data-prep-rl": "data prep rl",
}
_USAGE = ("usage: launcher.pex {" + ",".join([*LAUNCHERS, "pipeline", "nemotron"])
          + "} [ARGS...] (run it as `./pants run recipes/nano3:<name> -- ARGS`)")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the launcher named by the first argument with the remaining arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = args.pop(0) if args else ""
    if name == "pipeline":
        from nano3.pipeline import main as pipeline_main

        pipeline_main(args)
    elif name == "nemotron":
        from nano3.cli import main as cli_main

        sys.argv = ["nemotron", *args]
        cli_main()
    elif name in LAUNCHERS:
        from kit_cli import run_stage
        from nano3.recipe import RECIPE

        sys.exit(run_stage(RECIPE, LAUNCHERS[name], args))
    else:
        print(f"error: unknown launcher {name!r}; {_USAGE}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
