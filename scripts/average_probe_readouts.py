"""Average probe readouts fitted with the same settings on data drawn from different seeds.

    python scripts/fit_probe_judge.py ... --seed 1 --out /tmp/fits/s1.npz   # (and seeds 0, 2)
    python scripts/average_probe_readouts.py /tmp/fits/s0.npz /tmp/fits/s1.npz \\
        /tmp/fits/s2.npz --out consent_gym/judges/data/probe_gemma.npz [--threshold T]

Fits on generated data swing at the edges with the draw of the data: a few word lists
changed, or another seed, and an episode moves across the threshold. The mean of several
fits (:meth:`~consent_gym.judges.probe.ProbeReadout.averaged`) varies less than any one.
The threshold is ``--threshold`` or, by default, the mean of the members' thresholds; the
members' fingerprints and fit records are kept in the result's settings.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from consent_gym.judges.probe import ProbeReadout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("readouts", nargs="+", type=Path, help="fitted readouts (.npz)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the mean")
    parser.add_argument("--threshold", type=float, default=None,
                        help="veto threshold (default: the mean of the members' thresholds)")
    args = parser.parse_args(argv)
    if args.threshold is not None and not math.isfinite(args.threshold):
        parser.error("--threshold must be a finite number.")
    members = [ProbeReadout.load(p) for p in args.readouts]
    threshold = args.threshold if args.threshold is not None else \
        sum(m.threshold for m in members) / len(members)
    try:
        bag = ProbeReadout.averaged(members, threshold)
    except ValueError as exc:
        parser.error(str(exc))
    bag.save(args.out)
    print(f"{args.out}: mean of {len(members)} readouts, threshold {threshold:+.4f}, "
          f"fingerprint {bag.fingerprint[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
