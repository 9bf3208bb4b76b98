"""``python -m svgkit.minirft``: train the miniature and write its per-step table.

Examples::

    python -m svgkit.minirft --steps 36 --seed 0 --out outputs/minirft.jsonl
    python -m svgkit.minirft --judge gullible --hack-guards-off --out outputs/hack.csv   # demonstration only
"""

import argparse
import sys
from collections.abc import Sequence

from ..config import MINIRFT
from ..training_log import write_log
from .scoring import JUDGES
from .train import MiniRftConfig, run_minirft


def main(argv: Sequence[str] | None = None) -> int:
    """Run the miniature from the command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m svgkit.minirft",
        description="RFT in miniature: GRPO on a softmax bandit over fixed candidate answers, scored with "
                    "the real reward, offline. Not a language model.")
    parser.add_argument("--steps", type=int, default=MINIRFT.steps, help="training steps (default %(default)s)")
    parser.add_argument("--seed", type=int, default=MINIRFT.seed, help="sampling seed (default %(default)s)")
    parser.add_argument("--out", required=True,
                        help="where to write the per-step table: .jsonl or .csv (svgkit.training_log format)")
    parser.add_argument("--prompts", default=",".join(MINIRFT.prompt_ids),
                        help="comma-separated bundled prompt ids (default: %(default)s)")
    parser.add_argument("--group-size", type=int, default=MINIRFT.group_size, help="n (default %(default)s)")
    parser.add_argument("--prompts-per-step", type=int, default=MINIRFT.prompts_per_step,
                        help="prompts per step (default %(default)s)")
    parser.add_argument("--judge", choices=JUDGES, default="rule",
                        help="rule (default) or gullible (a demonstration judge fooled by written-out requirements)")
    parser.add_argument("--hack-guards-off", action="store_true",
                        help="DEMONSTRATION ONLY: train on the judge's own count, without the reward's "
                             "written-text guard, to watch reward hacking happen")
    args = parser.parse_args(argv)
    try:
        config = MiniRftConfig(steps=args.steps, seed=args.seed,
                               prompt_ids=tuple(p.strip() for p in args.prompts.split(",") if p.strip()),
                               group_size=args.group_size, prompts_per_step=args.prompts_per_step,
                               judge=args.judge, guards=not args.hack_guards_off)
        run = run_minirft(config)
        path = write_log(run.log, args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(run.summary())
    print(f"per-step table: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
