"""Estimated cycles from exact instruction counts: a per-core table of cycles per instruction class."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tinyasc.firmware_sim.harness.tools import TARGETS_DIR
from tinyasc.firmware_sim.target import Target

TIMING_DIR = TARGETS_DIR / "timing"
LATENCY_NOTE = "latency estimated from emulated instruction counts"

#: Instruction classes reported by the plugin (same order as its counters).
CLASSES: tuple[str, ...] = (
    "alu", "simd", "mul", "mull", "div", "load", "store", "load_multi", "store_multi", "branch",
    "loop", "fp", "fp_ldst", "mve", "mve_ldst", "fp_div", "fp_mac",
)
XFER = "xfer_regs"



@dataclass(frozen=True, kw_only=True)
class TimingModel:
    """Cycles = sum over classes of count x CPI + registers moved by LDM/STM x per_xfer_reg."""

    core: str
    reference: str
    assumptions: str
    cpi: dict[str, float]
    per_xfer_reg: float

    @classmethod
    def load(cls, target: Target) -> "TimingModel":
        d = json.loads((TIMING_DIR / f"{target.value}.json").read_text())
        missing = set(CLASSES) - set(d["cpi"])
        if missing:
            raise ValueError(f"timing model {target.value} lacks classes {sorted(missing)}")
        return cls(core=d["core"], reference=d["reference"], assumptions=d["assumptions"],
                   cpi={k: float(v) for k, v in d["cpi"].items()}, per_xfer_reg=float(d["per_xfer_reg"]))

    def cycles(self, counts: dict[str, int]) -> float:
        return sum(counts.get(c, 0) * self.cpi[c] for c in CLASSES) + counts.get(XFER, 0) * self.per_xfer_reg


def instructions(counts: dict[str, int]) -> int:
    return int(sum(counts.get(c, 0) for c in CLASSES))


def diff_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b[k] - a[k] for k in b}


