"""Frequency normalizations of the paper (sec. 2.2, Table 3) and SubSpectralNorm.

All forwards are free of data-dependent Python control flow (``torch.onnx.export`` traces them).
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

FREQIN_EPS = 1e-5
"""epsilon of eq. 1 (the usual InstanceNorm value)."""


def freq_instance_norm(x: torch.Tensor, eps: float = FREQIN_EPS) -> torch.Tensor:
    """FreqIN, eq. 1-2: normalize each (sample n, frequency f) by its mean/variance over channels and time.

    ``x`` is (N, C, F, T); the variance is the biased one (1/CT), as in eq. 2.
    """
    mu = x.mean(dim=(1, 3), keepdim=True)
    centered = x - mu
    var = (centered * centered).mean(dim=(1, 3), keepdim=True)
    return centered * torch.rsqrt(var + eps)


class ResNorm(nn.Module):
    """Residual Normalization, eq. 3: ``lambda * x + FreqIN(x)``.

    ``lam = 0`` is plain FreqIN (the "w/o shortcut" ablation). With ``learnable=True`` lambda
    is trained (the paper's "automatic update of lambda", named as future work):
    ``lambda = lam_init * exp(log_scale)`` with the parameter ``log_scale`` starting at 0, so
    lambda stays positive and starts at exactly ``lam_init`` (``exp(0) == 1``). In eval mode
    the forward multiplies by the Python float :attr:`lam`, so a traced/exported graph holds a
    constant ``Mul`` exactly like a fixed-lambda model of the learned value.
    """

    def __init__(self, lam: float = 0.1, eps: float = FREQIN_EPS, *, learnable: bool = False):
        super().__init__()
        if learnable and not lam > 0:
            raise ValueError(f"a learnable lambda needs a positive initial value, got {lam}")
        self.lam_init = float(lam)
        self.eps = float(eps)
        self.learnable = bool(learnable)
        if self.learnable:
            self.log_scale = nn.Parameter(torch.zeros(()))

    @property
    def lam(self) -> float:
        """Current lambda as a Python float (the fixed value, or the learned one)."""
        if not self.learnable:
            return self.lam_init
        with warnings.catch_warnings():  # under tracing too: a constant by design (the value, not the graph)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            log_scale = self.log_scale.item()
        return self.lam_init * math.exp(log_scale)  # in double: exactly lam_init at init

    def lam_tensor(self) -> torch.Tensor:
        """Lambda as a differentiable 0-d tensor (learnable lambda only)."""
        return self.lam_init * torch.exp(self.log_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = freq_instance_norm(x, self.eps)
        if self.learnable and self.training:  # structural flag and module mode, not data dependent
            return y + self.lam_tensor().to(x.dtype) * x
        lam = self.lam
        if lam != 0.0:
            y = y + lam * x
        return y

    def extra_repr(self) -> str:
        if self.learnable:
            return f"lam={self.lam:.4g} (learned, init {self.lam_init}), eps={self.eps}"
        return f"lam={self.lam}, eps={self.eps}"


class GlobalFreqNorm(nn.Module):
    """Global FreqNorm ablation: ``(x - mean_f) / std_f`` with training-set statistics per mel bin.

    The statistics are buffers (they travel in the state_dict); ``fitted`` is 0 until
    :meth:`set_stats` has been called (``tinyasc.train.fit`` does it from the training set).
    """

    def __init__(self, n_mels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def set_stats(self, mean: torch.Tensor, std: torch.Tensor, min_std: float = 1e-3) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype).reshape(-1))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype).reshape(-1).clamp_min(min_std))
        self.fitted.fill_(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.view(1, 1, -1, 1)) / self.std.view(1, 1, -1, 1)


class FixedPCEN(nn.Module):
    """Fixed (not learned) per-channel energy normalization computed from log-mel input.

    PCEN (Wang et al. 2017): ``(E / (eps + M)**alpha + delta)**r - delta**r`` with ``E = gain *
    exp(x)`` the mel energy recovered from the cached log-mel and ``M`` its first-order IIR
    smoother over time (smoothing ``s`` from a 0.4 s time constant at the hop, librosa's rule).
    For export the IIR is a causal FIR of ``taps`` frames (its impulse response renormalized;
    the tail dropped is below 1e-4 at 128 taps), and the left edge is padded with the first frame,
    which is the IIR's steady-state start. The feature cache stays log-mel.
    """

    def __init__(
        self,
        *,
        hop_seconds: float = 0.03,
        time_constant: float = 0.4,
        alpha: float = 0.98,
        delta: float = 2.0,
        r: float = 0.5,
        eps: float = 1e-6,
        gain: float = 2.0**31,
        taps: int = 128,
    ):
        super().__init__()
        t_frames = time_constant / hop_seconds
        s = (math.sqrt(1 + 4 * t_frames**2) - 1) / (2 * t_frames**2)
        k = torch.arange(taps - 1, -1, -1, dtype=torch.float64)  # oldest frame first (conv is correlation)
        w = s * (1 - s) ** k
        w = (w / w.sum()).to(torch.float32)
        self.register_buffer("kernel", w.view(1, 1, 1, taps), persistent=False)
        self.taps, self.s = taps, s
        self.alpha, self.delta, self.r, self.eps = alpha, delta, r, eps
        self.log_gain = math.log(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = torch.exp(x + self.log_gain)
        padded = nn.functional.pad(energy, (self.taps - 1, 0, 0, 0), mode="replicate")
        smooth = nn.functional.conv2d(padded, self.kernel)
        ratio = torch.exp(x + self.log_gain - self.alpha * torch.log(smooth + self.eps))
        return torch.pow(ratio + self.delta, self.r) - self.delta**self.r

    def extra_repr(self) -> str:
        return f"s={self.s:.4f}, alpha={self.alpha}, delta={self.delta}, r={self.r}, taps={self.taps}"


class SubSpectralNorm(nn.Module):
    """SubSpectralNorm (Chang et al. 2021) in the reshape form.

    (N, C, F, T) -> (N, C*S, F/S, T) -> BatchNorm2d(C*S) -> back, so each of the S sub-bands
    has its own statistics. The reshape form (not a multiply-add with (1, C, F, 1) constants)
    is the one onnx2tf converts correctly (shared toolchain notes).
    """

    def __init__(self, channels: int, groups: int = 4):
        super().__init__()
        self.groups = groups
        self.bn = nn.BatchNorm2d(channels * groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, f, t = x.shape
        y = self.bn(x.reshape(n, c * self.groups, f // self.groups, t))
        return y.reshape(n, c, f, t)


def resnorm_lambdas(model: nn.Module) -> dict[str, float]:
    """Lambda of every ResNorm module of ``model`` by module name (learned or fixed)."""
    return {name: m.lam for name, m in model.named_modules() if isinstance(m, ResNorm)}
