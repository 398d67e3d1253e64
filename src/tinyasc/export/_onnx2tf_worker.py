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
    if args.get("metadata"):
        from pathlib import Path

        for path in sorted(Path(args["out"]).glob("*.tflite")):
            add_metadata(path, {k: v.encode("latin-1") for k, v in args["metadata"].items()})
    return 0


def add_metadata(path, entries: dict[str, bytes]) -> None:
    """Append ``entries`` to the flatbuffer's metadata (name -> new buffer), rewriting the file."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(path.read_bytes()))
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() not in entries]
    for name, data in entries.items():
        buf = schema.BufferT()
        buf.data = list(data)
        model.buffers.append(buf)
        md = schema.MetadataT()
        md.name = name
        md.buffer = len(model.buffers) - 1
        model.metadata.append(md)
    path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


if __name__ == "__main__":
    sys.exit(main())
