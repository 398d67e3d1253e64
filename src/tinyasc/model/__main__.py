"""``python -m tinyasc.model``: the model registry with parameters, MACs and the DCASE 2022 rules."""

from __future__ import annotations

import argparse
import sys

from tinyasc.errors import InputError, cli_entry


@cli_entry
def main(argv: list[str] | None = None) -> int:
    from tinyasc.metrics import markdown_table
    from tinyasc.model import describe_models, registry_table
    from tinyasc.model.complexity import DCASE2022_MAX_MACS, DCASE2022_MAX_PARAMS

    p = argparse.ArgumentParser(prog="python -m tinyasc.model", description=__doc__)
    p.add_argument("--learnable-lambda", action="store_true", help="list the variants with learnable ResNorm lambda")
    args = p.parse_args(argv)
    try:
        infos = describe_models(**({"learnable_lambda": True} if args.learnable_lambda else {}))
    except ValueError as exc:
        raise InputError(None, f"invalid option: {exc}") from None
    print(markdown_table(*registry_table(infos)), end="")
    print(f"DCASE 2022+ limits: {DCASE2022_MAX_PARAMS:,} parameters incl. zeros, {DCASE2022_MAX_MACS / 1e6:g} M MACs "
          "per 1-s clip; bcresnet_asc is built at its default width (c = 10).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
