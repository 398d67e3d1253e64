"""One error type for bad user input, and the CLI wrapper that turns it into one line + exit 2."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Callable

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad input from the user: a file that is missing, corrupt or of the wrong kind.

    ``str(err)`` is the one line the CLI prints: ``"<path>: <problem>"``.
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def cli_entry(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], int]:
    """Wrap a CLI ``main(argv)``: configure logging, map :class:`InputError` to one line + exit 2.

    ``KeyboardInterrupt`` exits 130 without a traceback; every finished artifact was
    already renamed into place, so a rerun (``--resume``) continues.
    """

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        prog = Path(sys.argv[0]).name if argv is None else main.__module__
        try:
            rc = main(argv)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        return EXIT_OK if rc is None else int(rc)

    return wrapper
