"""Child process for :mod:`tinyasc.export.convert` (argv[1]: JSON with onnx, calib, out, input_name)."""

from __future__ import annotations

import json
import sys

import numpy as np


def main() -> int:
    args = json.loads(sys.argv[1])
    import onnx2tf

    zero = np.zeros((1, 1, 1, 1), dtype=np.float32)
    one = np.ones((1, 1, 1, 1), dtype=np.float32)
    onnx2tf.convert(
        input_onnx_file_path=args["onnx"],
        output_folder_path=args["out"],
        output_integer_quantized_tflite=True,
        quant_type="per-channel",
        custom_input_op_name_np_data_path=[[args["input_name"], args["calib"], zero, one]],
        input_quant_dtype="int8",
        output_quant_dtype="int8",
        non_verbose=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
