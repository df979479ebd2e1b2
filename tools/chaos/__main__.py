"""python -m tools.chaos [--duration S] [--rate R] [--seed N] [--json PATH]: see tools/chaos/__init__.py.
Settings from the environment too (CHAOS_DURATION, CHAOS_RATE, CHAOS_SEED, CHAOS_FAULT_EVERY);
a flag wins. Exit 0 when the ledger balances, 1 when something mismatched."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from tools.chaos.harness import RunSettings, run


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=float(env("CHAOS_DURATION", 300)),
                        help="seconds of load (default 300)")
    parser.add_argument("--rate", type=float, default=float(env("CHAOS_RATE", 1.0)),
                        help="dispute lifecycles started per second (default 1)")
    seed = env("CHAOS_SEED")
    parser.add_argument("--seed", type=int, default=int(seed) if seed else None,
                        help="the fault schedule's seed (default: random, printed first)")
    parser.add_argument("--fault-every", type=float, default=float(env("CHAOS_FAULT_EVERY", 15)),
                        help="one fault per this many seconds of load (default 15; one of each kind at least)")
    parser.add_argument("--seller-window", type=float, default=float(env("CHAOS_SELLER_WINDOW", 60)),
                        help="seconds the seller has to answer before the deadline worker resolves (default 60)")
    parser.add_argument("--folder", type=Path, default=Path(env("CHAOS_DIR", ".run/chaos")),
                        help="logs, servers' data and the ledger (default .run/chaos; emptied first)")
    parser.add_argument("--json", type=Path, default=None, help="the ledger's JSON (default <folder>/ledger.json)")
    args = parser.parse_args(argv)
    result = run(RunSettings(duration=args.duration, rate=args.rate, seed=args.seed,
                             fault_every=args.fault_every, seller_window=args.seller_window, folder=args.folder, json_path=args.json),
                 say=lambda line: print(line, flush=True))
    print(result.table, flush=True)
    print(f"\nledger {'balances' if result.balanced else 'DOES NOT BALANCE'} (seed {result.seed}); "
          f"JSON: {result.json_path}", flush=True)
    return 0 if result.balanced else 1


def _interrupt(*_) -> None:
    raise KeyboardInterrupt  # so the run stops what it started (its servers and processes)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
