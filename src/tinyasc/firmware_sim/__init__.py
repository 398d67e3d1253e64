"""Firmware simulator: int8 or 16x8 TFLite -> self-contained C (weights in flash, one static arena),
built on the host and proven bit-exact against TensorFlow Lite Micro.

Imports no torch: it reads only the ``.tflite`` artifact.
"""

from tinyasc.firmware_sim.generator import FirmwareArtifact, GeneratorOptions, generate

__all__ = ["FirmwareArtifact", "GeneratorOptions", "generate"]
