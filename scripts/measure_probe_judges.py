"""Run the shipped ``consent-gym eval-judge`` commands for several judges side by side.

    python scripts/measure_probe_judges.py --judges probe-minilm probe --threads 1

Each run is ``eval_judge.main`` with the arguments printed before it (the judge is built
anew each time; the verdict cache stays off, so episodes/s is uncached). The commands
alternate between the judges so that both see the same machine load; each run ends with
the JSON line that ``--json`` prints.
"""

from __future__ import annotations

import argparse
import sys

from consent_gym.commands import eval_judge

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("{dev}", "--show-errors"),
    ("--format-suite", "held-out", "--per-format", "8", "--show-errors"),
    ("--benign-suite", "all", "--benign-episodes", "2", "--show-errors"),
    ("--env", "consent_gym/DeliveryCurb-v0", "--episodes", "30"),
    ("--env", "consent_gym/DeliveryBoxes-v0", "--episodes", "30", "--perception", "informed"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--judges", nargs="+", default=["probe-minilm", "probe"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dev", default="../shared/judge-bench/dev.jsonl",
                        help="judge-bench dev.jsonl (default: as seen from /work/main)")
    parser.add_argument("--only", type=int, nargs="*", help="indices of COMMANDS to run")
    args = parser.parse_args(argv)
    for i, command in enumerate(COMMANDS):
        if args.only and i not in args.only:
            continue
        for judge in args.judges:
            line = [*(part.format(dev=args.dev) for part in command), "--judge", judge,
                    "--threads", str(args.threads), "--json"]
            print(f"$ consent-gym eval-judge {' '.join(line)}", flush=True)
            eval_judge.main(line)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
