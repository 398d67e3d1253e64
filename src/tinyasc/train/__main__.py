"""``python -m tinyasc.train DATASET ...`` = ``asc-train`` (what torchrun launches)."""

import sys

from tinyasc.train.cli import train_main

sys.exit(train_main())
