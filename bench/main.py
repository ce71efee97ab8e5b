"""``bench/run [--quick] [--only NAME…]``: print one line per figure, write bench/results/*.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .figures import ALL, Figure, machine

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description="cunwu benchmarks (see README.md, section Performance)")
    parser.add_argument("--quick", action="store_true", help="the short setting (< 2 min; what CI runs)")
    parser.add_argument("--only", nargs="+", choices=sorted(ALL), help="run only these groups")
    parser.add_argument("--out", type=Path, help="JSON result file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CUNWU_SECRET_KEY", "bench-secret")
    info = machine()
    mode = "quick" if args.quick else "full"
    print(f"# cunwu bench ({mode}) — {info.get('cores')} cores, {info.get('cpu', '?')}, Python {info['python']}, "
          f"load {info['loadavg_start'][0]:.2f}", flush=True)
    figures: list[Figure] = []
    failed: dict[str, str] = {}
    started = time.perf_counter()
    for name in args.only or list(ALL):
        t0 = time.perf_counter()
        try:
            found = ALL[name](args.quick)
        except Exception as exc:  # noqa: BLE001 - one group failing must not hide the others
            text = "".join(traceback.format_exception(exc))
            # paths relative to the checkout: a committed result names no folder of the machine it ran on
            failed[name] = text.replace(str(Path(__file__).resolve().parent.parent) + os.sep, "")[-2000:]
            print(f"{name:<44} FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for fig in found:
            print(fig.line(), flush=True)
        figures.extend(found)
        print(f"#   {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    info["loadavg_end"] = os.getloadavg()
    result = {"mode": mode, "at": datetime.now(UTC).isoformat(), "machine": info,
              "seconds": time.perf_counter() - started, "figures": [f.as_dict() for f in figures],
              "failed": failed}
    out = args.out or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"# {len(figures)} figures in {result['seconds']:.0f} s → {out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
