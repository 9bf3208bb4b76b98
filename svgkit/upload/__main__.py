"""Command line: ``python -m svgkit.upload stage [DIR]`` and ``python -m svgkit.upload preflight [DIR]``.

``stage`` writes the evaluator bundle (default ``outputs/evaluator_bundle``) and lists every file
with its size; ``preflight`` runs a staged bundle as ``ep local-test --ignore-docker`` would, in a
cached virtual environment built from its ``requirements.txt``. Neither needs a key or uploads anything.
"""

import argparse
import sys
from collections.abc import Sequence

from ..config import UPLOAD, output_path
from .bundle import BundleError, stage_bundle


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (1 when staging is refused or the preflight fails)."""
    parser = argparse.ArgumentParser(prog="python -m svgkit.upload", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    stage = sub.add_parser("stage", help="write the evaluator bundle and list its files")
    stage.add_argument("dir", nargs="?", help=f"staging folder (default: outputs/{UPLOAD.bundle_dir})")
    check = sub.add_parser("preflight", help="run a staged bundle in a fresh venv, as ep local-test does")
    check.add_argument("dir", nargs="?", help=f"the staged bundle (default: outputs/{UPLOAD.bundle_dir})")
    check.add_argument("--max-rows", type=int, default=None, help="score only the first N example rows")
    check.add_argument("--docker", action="store_true", help="also build and run the image, where Docker works")
    args = parser.parse_args(argv)
    folder = args.dir or output_path(UPLOAD.bundle_dir)
    try:
        if args.command == "stage":
            bundle = stage_bundle(folder)
            print(f"staged {bundle.root}\n")
            print(bundle.table())
            return 0
        from .local_test import preflight  # imports Eval Protocol: only when needed

        result = preflight(folder, max_rows=args.max_rows, docker=args.docker)
    except (BundleError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.table())
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
