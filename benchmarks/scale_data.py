"""Grow a real seed pair to N entities per side (see ``stream_align.eval.datasets.grow``):

    python benchmarks/scale_data.py --seed-dataset ../shared/datasets/dbp15k/zh_en \
        --entities-per-side 200000 --out /tmp/zh_en_200k

The output is a JAPE-layout directory: ``replay``, ``align``, ``run`` and ``eval`` read it like
DBP15K. Prints the counts (also in ``SCALE.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from stream_align.eval.datasets.grow import grow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-dataset", type=Path, required=True, metavar="DIR",
                        help="JAPE-layout seed pair, e.g. ../shared/datasets/dbp15k/zh_en")
    parser.add_argument("--entities-per-side", type=int, required=True, metavar="N")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--rewire", type=float, default=0.25,
                        help="share of triples whose tail is taken from another copy")
    parser.add_argument("--rng-seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tqdm(desc="copies", unit="copy", file=sys.stderr) as bar:
        def advance(done: int, copies: int) -> None:
            bar.total = copies
            bar.update(done - bar.n)

        summary = grow(args.seed_dataset, args.out, args.entities_per_side, args.rewire,
                       args.rng_seed, on_copy=advance)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
