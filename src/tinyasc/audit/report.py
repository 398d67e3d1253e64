"""What the auditor reports: per-tensor rows, totals, the MACs and the verdict under a DCASE rule set.

Counting rules (the same for every format; the report repeats them):

* Every parameter the audited artifact stores counts: weights, biases, BatchNorm's scale,
  shift, running mean and running variance (unless the artifact folded them away, as an
  int8 TFLite file or a constant-folded ONNX graph does), quantization-free constants.
  Integer training counters (BatchNorm's ``num_batches_tracked``) and index constants
  (int32/int64 shapes, axes, permutations, paddings of RESHAPE/TRANSPOSE/MEAN/PAD...; any
  integer constant that is not a convolution's weight or bias) are not parameters; the
  report notes how many bytes they take (they are in the dense file size).
* Only non-zero values count toward the 2021 budget. For a quantized tensor "zero" is the real
  value 0, i.e. the stored integer equal to its zero point. The 2022+ rules count every
  parameter, zeros included.
* Bits per parameter are those of the artifact (checkpoint: 32, or for a compressed one 8 for
  the quantized convolution weights and 16 for the rest *after checking* the values lie on that
  grid; ONNX and TFLite: the tensor types). Buffers shared by several tensors count once.
* Size = params x bits / 8; NZ size = non-zero x bits / 8. kB = 1000 B, KiB = 1024 B.
* MACs (TFLite only, :mod:`tinyasc.audit.macs`): CONV_2D and DEPTHWISE_CONV_2D
  ``output elements x in_channels / groups x kh x kw``, FULLY_CONNECTED ``batch x out x in``,
  one per output element of MUL and SQUARED_DIFFERENCE; nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from tinyasc.rules import DCASE2021_MAX_NONZERO_BYTES as DEFAULT_BUDGET_BYTES  # noqa: F401 (re-exported)
from tinyasc.rules import DCASE2022_MAX_MACS_PER_SECOND, DCASE2022_MAX_PARAMS  # noqa: F401 (re-exported)

COUNTING_RULES = (
    "Every stored parameter counts (BatchNorm scale, shift, running mean and variance unless "
    "folded away in the artifact; biases at their stored width: int32 in an int8 TFLite file, int64 in a "
    "16x8 one); only non-zero values count toward the 2021 budget, every value (zeros included) toward "
    "the 2022+ parameter limit; bits per parameter are the artifact's (checkpoint: 8 for "
    "quantized conv weights, 16 for the rest of a compressed model, 32 uncompressed; ONNX and "
    "TFLite: the tensor types). kB = 1000 B, KiB = 1024 B. MACs (TFLite): CONV_2D/DEPTHWISE_CONV_2D "
    "output elements x in_channels/groups x kh x kw, FULLY_CONNECTED batch x out x in, one per output "
    "element of MUL and SQUARED_DIFFERENCE; per 1 s = per inference / clip seconds."
)


class Rules(str, enum.Enum):
    """Which DCASE Task 1 complexity rules the verdict applies."""

    DCASE2021 = "dcase2021"
    """128 KB (128,000 B) of non-zero parameters at their stored width."""
    DCASE2022 = "dcase2022"
    """128K parameters including zeros, and 30 M MACs per 1 s of audio (2022 and later)."""


@dataclass(frozen=True, kw_only=True)
class MacCount:
    """Multiply-accumulates of one inference, by op type (convention in the module docstring)."""

    by_op: dict[str, int]
    """Op type -> MACs of all its nodes."""

    @property
    def total(self) -> int:
        return sum(self.by_op.values())


@dataclass(frozen=True, kw_only=True)
class LimitCheck:
    """One figure against its limit."""

    name: str
    """What is limited (``nonzero_bytes``, ``params``, ``macs_per_second``)."""
    value: float
    """The artifact's figure."""
    limit: float
    """The rule's limit (inclusive)."""

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "ok": self.ok}


class ArtifactFormat(str, enum.Enum):
    """Kinds of model file the auditor reads."""

    CHECKPOINT = "checkpoint"
    ONNX = "onnx"
    TFLITE = "tflite"


class ParamKind(str, enum.Enum):
    """What a counted tensor is (lets a reader split the total the way the paper does)."""

    CONV_WEIGHT = "conv_weight"
    NORM_AFFINE = "norm_affine"
    NORM_STATS = "norm_stats"
    BIAS = "bias"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    """One stored tensor."""

    name: str
    """Tensor name in the artifact (state_dict key, ONNX initializer, TFLite tensor)."""
    params: int
    """Number of values stored."""
    nonzero: int
    """Number of values whose real value is not zero."""
    bits: int
    """Bits per stored value."""
    kind: ParamKind = ParamKind.OTHER
    """Coarse role of the tensor (conv weight, norm affine/statistics, bias, other)."""
    dtype: str = ""
    """Stored element type as the artifact names it."""

    @property
    def size_bytes(self) -> float:
        return self.params * self.bits / 8

    @property
    def nonzero_bytes(self) -> float:
        return self.nonzero * self.bits / 8

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "nonzero": self.nonzero,
            "bits": self.bits,
            "size_bytes": self.size_bytes,
            "nonzero_bytes": self.nonzero_bytes,
            "kind": self.kind.value,
            "dtype": self.dtype,
        }


def _fmt_bytes(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"


@dataclass(kw_only=True)
class AuditReport:
    """Per-tensor counts of one artifact, its totals and the budget verdict."""

    path: str
    """Audited file."""
    format: ArtifactFormat
    """Kind of artifact."""
    rows: list[AuditRow]
    """One row per stored tensor, in artifact order."""
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    """Budget for the non-zero size, in bytes."""
    dense_file_bytes: int = 0
    """Size of the file on disk (for TFLite: the flatbuffer that would be flashed)."""
    notes: list[str] = field(default_factory=list)
    """Warnings raised while counting (e.g. a tensor declared 8-bit that is not on a grid)."""
    rules: Rules = Rules.DCASE2021
    """Rule set of the verdict (:attr:`passes`)."""
    macs: "MacCount | None" = None
    """Multiply-accumulates per inference (TFLite only)."""
    clip_seconds: float | None = None
    """Seconds of audio one inference covers (the deployed contract's, or given)."""

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def nonzero(self) -> int:
        return sum(r.nonzero for r in self.rows)

    @property
    def size_bytes(self) -> float:
        return sum(r.size_bytes for r in self.rows)

    @property
    def nonzero_bytes(self) -> float:
        return sum(r.nonzero_bytes for r in self.rows)

    @property
    def within_budget(self) -> bool:
        return self.nonzero_bytes <= self.budget_bytes

    @property
    def macs_per_second(self) -> float | None:
        """MACs per inference normalized to 1 s of audio (None without MACs or clip length)."""
        if self.macs is None or not self.clip_seconds:
            return None
        return self.macs.total / self.clip_seconds

    def checks(self) -> list[LimitCheck]:
        """The figures :attr:`rules` limits, each against its limit."""
        if self.rules is Rules.DCASE2021:
            return [LimitCheck(name="nonzero_bytes", value=self.nonzero_bytes, limit=self.budget_bytes)]
        out = [LimitCheck(name="params", value=self.params, limit=DCASE2022_MAX_PARAMS)]
        if self.macs_per_second is not None:
            out.append(LimitCheck(name="macs_per_second", value=self.macs_per_second, limit=DCASE2022_MAX_MACS_PER_SECOND))
        return out

    @property
    def passes(self) -> bool:
        """Every limit of :attr:`rules` kept."""
        return all(c.ok for c in self.checks())

    def by_kind(self) -> dict[str, dict[str, Any]]:
        """Totals per (kind, bits): the paper's "33K 8-bit + 15K 16-bit" style split."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            key = f"{r.kind.value}@{r.bits}"
            d = out.setdefault(key, {"kind": r.kind.value, "bits": r.bits, "params": 0, "nonzero": 0, "nonzero_bytes": 0.0})
            d["params"] += r.params
            d["nonzero"] += r.nonzero
            d["nonzero_bytes"] += r.nonzero_bytes
        return out

    @property
    def totals(self) -> dict[str, Any]:
        nz = self.nonzero_bytes
        return {
            "params": self.params,
            "nonzero": self.nonzero,
            "size_bytes": self.size_bytes,
            "nonzero_bytes": nz,
            "nonzero_kB": nz / 1000,
            "nonzero_KiB": nz / 1024,
            "size_kB": self.size_bytes / 1000,
            "size_KiB": self.size_bytes / 1024,
            "dense_file_bytes": self.dense_file_bytes,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format.value,
            "counting_rules": COUNTING_RULES,
            "budget_bytes": self.budget_bytes,
            "within_budget": self.within_budget,
            "rules": self.rules.value,
            "passes": self.passes,
            "checks": [c.to_dict() for c in self.checks()],
            "macs": None if self.macs is None else {"per_inference": self.macs.total, "by_op": dict(self.macs.by_op),
                                                     "clip_seconds": self.clip_seconds,
                                                     "per_second": self.macs_per_second},
            "totals": self.totals,
            "by_kind": self.by_kind(),
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """The DCASE 2021 baseline's size table: Name | Param | NZ Param | Bits | Size | NZ Size."""
        lines = [
            "| Name | Param | NZ Param | Bits | Size | NZ Size |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name} | {r.params:,} | {r.nonzero:,} | {r.bits} | "
                f"{_fmt_bytes(r.size_bytes)} B | {_fmt_bytes(r.nonzero_bytes)} B |"
            )
        lines.append(
            f"| **Total** | **{self.params:,}** | **{self.nonzero:,}** | | "
            f"**{_fmt_bytes(self.size_bytes)} B** | **{_fmt_bytes(self.nonzero_bytes)} B** |"
        )
        t = self.totals
        verdict = "within" if self.within_budget else "OVER"
        lines += [
            "",
            f"Non-zero parameters: {t['nonzero']:,} of {t['params']:,}; "
            f"non-zero size {_fmt_bytes(t['nonzero_bytes'])} bytes = {t['nonzero_kB']:.2f} kB = {t['nonzero_KiB']:.2f} KiB "
            f"({verdict} budget {self.budget_bytes:,} bytes).",
            f"Dense size {_fmt_bytes(t['size_bytes'])} bytes = {t['size_kB']:.2f} kB = {t['size_KiB']:.2f} KiB; "
            f"file on disk ({self.format.value}) {self.dense_file_bytes:,} bytes.",
            "",
            "| Kind | Bits | Param | NZ Param | NZ Size |",
            "|---|---:|---:|---:|---:|",
        ]
        for d in self.by_kind().values():
            lines.append(f"| {d['kind']} | {d['bits']} | {d['params']:,} | {d['nonzero']:,} | {_fmt_bytes(d['nonzero_bytes'])} B |")
        if self.macs is not None:
            lines += ["", "| Op | MACs per inference |", "|---|---:|"]
            lines += [f"| {op} | {n:,} |" for op, n in self.macs.by_op.items()]
            lines.append(f"| **Total** | **{self.macs.total:,}** |")
            if self.macs_per_second is not None:
                lines.append(f"\nMACs per 1 s of audio: {self.macs_per_second:,.0f} "
                             f"(inference covers {self.clip_seconds:g} s).")
        lines += ["", f"Rules {self.rules.value}: " + ", ".join(
            f"{c.name} {c.value:,.0f} {'<=' if c.ok else '>'} {c.limit:,.0f}" for c in self.checks())
            + (" (pass)" if self.passes else " (FAIL)")]
        lines += ["", f"Counting rules: {COUNTING_RULES}"]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"





def budget_line(report: AuditReport) -> str:
    """One-line verdict for logs."""
    t = report.totals
    line = (
        f"{report.path}: {t['nonzero']:,} non-zero params, {t['nonzero_bytes']:,.0f} B "
        f"({t['nonzero_kB']:.2f} kB / {t['nonzero_KiB']:.2f} KiB) "
        f"{'within' if report.within_budget else 'over'} {report.budget_bytes:,} B; dense file {report.dense_file_bytes:,} B"
    )
    if report.rules is not Rules.DCASE2021:
        line += f"; {report.rules.value} {'pass' if report.passes else 'FAIL'}"
    return line
