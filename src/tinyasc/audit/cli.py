"""``asc-audit MODEL [--rules dcase2021|dcase2022] [--budget 128000] [--clip-seconds S] [--json OUT]``:
size (and MACs) table, exit 1 when a limit is broken."""

from __future__ import annotations

import argparse
import logging

from tinyasc.atomic import write_json
from tinyasc.audit import DEFAULT_BUDGET_BYTES, Rules, audit, budget_line
from tinyasc.errors import EXIT_GATE_FAILED, EXIT_OK, InputError, cli_entry

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asc-audit",
        description="Count the parameters of a tinyasc checkpoint, an .onnx or an int8 .tflite (and a .tflite's "
        "MACs) against the DCASE Task 1 rules. Exit 0 within the limits, 1 over, 2 bad file.",
    )
    p.add_argument("model", help="tinyasc checkpoint (.pt), ONNX model (.onnx) or TFLite flatbuffer (.tflite)")
    p.add_argument("--rules", choices=[r.value for r in Rules], default=Rules.DCASE2021.value,
                   help="dcase2021: 128 KB of non-zero parameters (default); dcase2022: 128K parameters "
                   "including zeros and 30 M MACs per 1 s of audio (.tflite only)")
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET_BYTES,
                   help="dcase2021 budget for the non-zero size in bytes (default 128000)")
    p.add_argument("--clip-seconds", type=float, default=None,
                   help="seconds of audio one inference covers, for MACs per 1 s when the model carries no "
                   "tinyasc.contract metadata")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON to OUT")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.budget <= 0:
        raise InputError(None, f"--budget must be positive, got {args.budget}")
    report = audit(args.model, budget_bytes=args.budget, rules=Rules(args.rules), clip_seconds=args.clip_seconds)
    print(report.to_markdown(), end="")
    if args.json:
        write_json(args.json, report.to_dict())
    log.info(budget_line(report))
    return EXIT_OK if report.passes else EXIT_GATE_FAILED
