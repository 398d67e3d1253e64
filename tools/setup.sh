#!/usr/bin/env bash
# Set up tinyasc on a fresh machine: system packages (Cortex-M toolchain, QEMU; with --test also
# Chromium for the report test) and a Python venv in .venv with the pinned dependencies; with --test
# also CMSIS-DSP's sources (the PyPI source distribution, unpacked into .cache/cmsis-dsp, never committed)
# for the tests of the front end's TINYASC_FE_CMSIS_DSP build.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(gcc make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
if [[ "${1:-}" == "--test" ]]; then
  APT_PKGS+=(chromium)
fi

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install with apt: ${missing[*]} (asc-latency and the firmware tests need them)" >&2
  fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# torch==2.13.0 is pinned in pyproject.toml: the CPU build; a looser range would pull CUDA.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python -c "import tinyasc, torch, onnx2tf, tflite_micro" 2>/dev/null || { echo "setup: python dependencies failed to import" >&2; exit 1; }
if [[ "${1:-}" == "--test" && ! -f .cache/cmsis-dsp/Include/arm_math.h ]]; then
  CMSIS_DSP_VERSION=1.10.3
  rm -rf .cache/cmsis-dsp.tmp && mkdir -p .cache/cmsis-dsp.tmp
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary cmsisdsp --no-build-isolation \
    -d .cache/cmsis-dsp.tmp "cmsisdsp==${CMSIS_DSP_VERSION}" 2>&1 | grep -v "is ignored: it is neither" || true
  tar -xzf ".cache/cmsis-dsp.tmp/cmsisdsp-${CMSIS_DSP_VERSION}.tar.gz" -C .cache/cmsis-dsp.tmp \
    || { echo "setup: CMSIS-DSP ${CMSIS_DSP_VERSION} sources could not be downloaded" >&2; exit 1; }
  rm -rf .cache/cmsis-dsp && mv ".cache/cmsis-dsp.tmp/cmsisdsp-${CMSIS_DSP_VERSION}" .cache/cmsis-dsp
  rm -rf .cache/cmsis-dsp.tmp
fi
echo "setup: ok"
