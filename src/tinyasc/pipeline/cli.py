"""``asc-pipeline``: dataset -> features -> teacher/student -> compress -> integer export -> audit ->
firmware -> Cortex-M latency, then one report. Exit 0 when every gate passed, 1 when a gate failed,
2 on bad input."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tinyasc.errors import EXIT_GATE_FAILED, InputError, cli_entry

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    from tinyasc.pipeline.profiles import ProfileName

    p = argparse.ArgumentParser(prog="asc-pipeline", description=__doc__)
    p.add_argument("--dataset", type=Path, help="TAU-layout dataset root (default: synthesize one into RUN/dataset)")
    p.add_argument("--profile", default=ProfileName.QUICK.value, choices=[n.value for n in ProfileName],
                   help="settings: quick (the paper's 0.89 compression in miniature, about 8 minutes on 2 CPU cores), "
                        "paper (the paper's recipe), smoke (CI on tiny data)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true",
                   help="skip stages whose artifacts are valid for their inputs (a rerun after a failure continues)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.atomic import write_json
    from tinyasc.pipeline.profiles import PROFILES, ProfileName
    from tinyasc.pipeline.report import write_report
    from tinyasc.pipeline.runner import run_stages
    from tinyasc.pipeline.stages import PipelineContext, all_stages

    profile = PROFILES[ProfileName(args.profile)]
    if args.dataset is not None and not (args.dataset / "meta.csv").is_file():
        raise InputError(args.dataset, "not a TAU-layout dataset (no meta.csv)")
    run_dir: Path = args.out
    if run_dir.exists() and any(run_dir.iterdir()) and not args.resume:
        raise InputError(run_dir, "exists; pass --resume to continue it or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "profile.json", profile.to_dict())
    ctx = PipelineContext(run_dir=run_dir, profile=profile, dataset=args.dataset, progress=not args.no_progress)
    t0 = time.perf_counter()

    def show(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    try:
        records = run_stages(all_stages(ctx), run_dir, resume=True, progress=show)
        for r in records:
            show(f"{r.title}: {r.status} ({r.seconds:.1f} s)")
    finally:
        # Also after a failed stage: the report shows what ran and which gates were not evaluated.
        summary = write_report(run_dir, profile.to_dict())
    for g in summary.gates:
        print(f"{'PASS' if g.passed else ('FAIL' if g.passed is False else 'NOT RUN')}  {g.name}: {g.detail}")
    print(f"report: {run_dir / 'report.html'} and {run_dir / 'report.md'} ({time.perf_counter() - t0:.0f} s)")
    return 0 if summary.passed else EXIT_GATE_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
