"""The one input quantizer every stage uses: TFLite's QUANTIZE arithmetic."""

import numpy as np

from tinyasc.qmath import quantize


def test_ties_round_away_from_zero_and_codes_saturate():
    assert quantize(np.array([0.25, -0.25, 0.75, 100.0, -100.0]), 0.5, -1).tolist() == [0, -2, 1, 127, -128]
    assert quantize(np.array([1e6]), 1.0, 0, dtype="INT16").tolist() == [32767]
    assert quantize(np.array([-3.0]), 1.0, 10, dtype="UINT8").tolist() == [7]


def test_quotient_is_taken_in_float32_as_tflite_does():
    # float32(x) / float32(s) is exactly 2.5 here while the float64 quotient is just under it:
    # TFLite (float32) gives code 3; a float64 quantizer would give 2 and feed the model another input.
    x, s = np.float32(0.20220588147640228), np.float32(0.08088235557079315)
    assert float(x) / float(s) < 2.5
    assert quantize(np.array([x]), float(s), 0).tolist() == [3]


def test_just_below_half_stays_down():
    x = np.nextafter(np.float32(0.5), np.float32(0.0))  # 0.49999997: |q| + 0.5 would round up in float32
    assert quantize(np.array([x]), 1.0, 0).tolist() == [0]
    assert quantize(np.array([-x]), 1.0, 0).tolist() == [0]
