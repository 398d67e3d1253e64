"""``asc-audit MODEL [--budget 128000] [--json OUT]``: size table, exit 1 when over budget."""

from __future__ import annotations

import argparse
import logging

from tinyasc.atomic import write_json
from tinyasc.errors import EXIT_GATE_FAILED, EXIT_OK, InputError, cli_entry
from tinyasc.export.audit import DEFAULT_BUDGET_BYTES, audit, budget_line

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asc-audit",
        description="Count the non-zero parameters of a tinyasc checkpoint, an .onnx or an int8 .tflite "
        "(DCASE 2021 Task 1A size rule). Exit 0 within budget, 1 over budget, 2 bad file.",
    )
    p.add_argument("model", help="tinyasc checkpoint (.pt), ONNX model (.onnx) or TFLite flatbuffer (.tflite)")
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET_BYTES, help="budget for the non-zero size in bytes (default 128000)")
    p.add_argument("--json", metavar="OUT", default=None, help="also write the report as JSON to OUT")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.budget <= 0:
        raise InputError(None, f"--budget must be positive, got {args.budget}")
    report = audit(args.model, budget_bytes=args.budget)
    print(report.to_markdown(), end="")
    if args.json:
        write_json(args.json, report.to_dict())
    log.info(budget_line(report))
    return EXIT_OK if report.within_budget else EXIT_GATE_FAILED
