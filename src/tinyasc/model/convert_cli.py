"""``asc-convert-checkpoint``: rewrite an old checkpoint the user trusts as plain data.

Checkpoints written before tinyasc saved plain data may hold numpy values or other Python
objects in their pickle; :meth:`tinyasc.contract.Checkpoint.load` refuses those, because
unpickling an object can run code. This command unpickles such a file *only with*
``--trust`` (the user vouches for where it came from), checks it is a tinyasc checkpoint,
and writes it again through :meth:`Checkpoint.save`, which stores tensors, containers and
plain values only; the new file is then re-read through the safe path before it counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from tinyasc.contract import Checkpoint, read_checkpoint_payload
from tinyasc.errors import InputError, cli_entry

log = logging.getLogger(__name__)


def convert_checkpoint(src: Path, dst: Path, *, trust: bool) -> Checkpoint:
    """Read ``src`` (unpickling it in full only when ``trust``), write it as plain data to ``dst``.

    A file that already loads safely needs no trust. Without ``trust`` an unsafe file raises
    the same :class:`InputError` as :meth:`Checkpoint.load`. ``dst`` is written atomically
    and may equal ``src``.
    """
    try:
        payload = read_checkpoint_payload(src)
    except InputError as err:
        if not trust or "refused" not in err.problem:
            raise
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                payload = torch.load(src, map_location="cpu", weights_only=False)  # the user vouched for it
            except Exception as exc:
                raise InputError(src, f"not a readable checkpoint ({type(exc).__name__}: {exc})") from None
        log.warning("%s: unpickled in full on --trust", src)
    ckpt = Checkpoint.from_payload(payload, src)
    try:
        ckpt.save(dst)
    except TypeError as exc:  # a value with no plain form
        raise InputError(src, f"cannot convert: {exc}") from None
    return Checkpoint.load(dst)


@cli_entry
def convert_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="asc-convert-checkpoint",
        description="Rewrite a tinyasc checkpoint as plain data (tensors, containers, plain values) so that "
                    "loading it runs no code. Files holding Python objects are unpickled only with --trust.",
    )
    p.add_argument("checkpoint", type=Path, help="checkpoint (.pt) to read")
    p.add_argument("out", type=Path, help="where to write the converted checkpoint (may be the same path)")
    p.add_argument("--trust", action="store_true",
                   help="you trust the file's origin: unpickle it in full (this can run code it holds)")
    args = p.parse_args(argv)
    ckpt = convert_checkpoint(args.checkpoint, args.out, trust=args.trust)
    print(f"{args.out}: {ckpt.model_name}, {len(ckpt.state_dict)} tensors, plain data (loads without running code)")
    return 0


if __name__ == "__main__":  # ``python -m tinyasc.model.convert_cli OLD.pt NEW.pt --trust``
    sys.exit(convert_main())
