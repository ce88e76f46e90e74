"""The baseline of bench/quantizer.bench.ts: ONNX Runtime's static quantizer on the same model and data.

    python bench/ort_quantize.py --model in.onnx --out out.onnx --method minmax|entropy|percentile --calib DIR
                                 [--op-types Conv,ConvTranspose,MatMul,Gemm] [--entropy-bins 2048]

DIR holds the calibration feeds the bench wrote: inputs.json ({"inputs": [name, ...], "count": N}) and
s<i>_<k>.npy, sample i's value of input k. They are read one sample at a time, as ORT's CalibrationDataReader
asks for them. quantize_static runs with QuantFormat.QDQ, per_channel=True, uint8 activations, int8 weights,
the calibration method asked and ORT's defaults for everything else (its calibrator options, no
quant_pre_process); --op-types restricts the quantized ops (the bench passes the ones ours quantizes).
--entropy-bins N: ORT's entropy calibrator with N histogram bins and 128 quantized bins, TensorRT's search (ORT's
defaults, 128 and 128, leave it one candidate: the whole range, min-max's thresholds). quantize_static has no
option that reaches them (its calibration options are a fixed list), so the create_calibrator it calls is
given them here.

Prints one JSON line: seconds (wall time of quantize_static: calibration + quantization + writing),
peak_rss_kib (this process's peak RSS at the end), rss_before_kib (the peak before quantize_static, i.e.
Python + numpy + onnxruntime imported), bytes (size of the written model), ort (onnxruntime's version).
Peak RSS is VmHWM from /proc/self/status: ru_maxrss would do on its own, but Linux carries the spawning
process's high-water mark into it across fork/vfork + exec, so a big parent would inflate it.
"""
import argparse
import json
import os
import resource
import sys
import time

try:
    import numpy as np
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
except ImportError as error:  # the bench turns this message into its own
    sys.exit(f"ort_quantize.py: {error}; this Python needs onnxruntime (with onnxruntime.quantization), onnx and numpy")

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}


def peak_rss_kib() -> int:
    """This process's peak resident set (KiB): VmHWM, or ru_maxrss where there is no /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class NpyReader(CalibrationDataReader):
    """The bench's .npy feeds, loaded when ORT asks for them (nothing kept here)."""

    def __init__(self, folder: str):
        with open(os.path.join(folder, "inputs.json"), encoding="utf-8") as f:
            spec = json.load(f)
        self.folder = folder
        self.inputs = spec["inputs"]
        self.count = spec["count"]
        self.next = 0

    def get_next(self):
        if self.next >= self.count:
            return None
        i = self.next
        self.next += 1
        return {name: np.load(os.path.join(self.folder, f"s{i}_{k}.npy")) for k, name in enumerate(self.inputs)}

    def rewind(self):
        self.next = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--method", required=True, choices=sorted(METHODS))
    parser.add_argument("--calib", required=True, help="folder of .npy feeds (inputs.json + s<i>_<k>.npy)")
    parser.add_argument("--op-types", default="", help="comma-separated op types to quantize (default: ORT's, every op it can)")
    parser.add_argument("--entropy-bins", type=int, default=0, help="entropy: histogram bins, with 128 quantized bins (default: ORT's 128 / 128)")
    args = parser.parse_args()
    if args.entropy_bins:
        if args.method != "entropy" or args.entropy_bins < 256:
            sys.exit("ort_quantize.py: --entropy-bins goes with --method entropy and is at least 256")
        # The module itself: the package's attribute `quantize` is a function of that name.
        ort_quantize_module = sys.modules["onnxruntime.quantization.quantize"]
        create_calibrator = ort_quantize_module.create_calibrator

        def with_bins(*positional, extra_options=None, **named):
            options = {**(extra_options or {}), "num_bins": args.entropy_bins, "num_quantized_bins": 128}
            return create_calibrator(*positional, extra_options=options, **named)

        ort_quantize_module.create_calibrator = with_bins

    reader = NpyReader(args.calib)
    op_types = [t for t in args.op_types.split(",") if t] or None
    rss_before = peak_rss_kib()
    started = time.perf_counter()
    quantize_static(
        args.model,
        args.out,
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=METHODS[args.method],
        op_types_to_quantize=op_types,
    )
    seconds = time.perf_counter() - started
    peak = peak_rss_kib()
    print(json.dumps({"seconds": seconds, "peak_rss_kib": peak, "rss_before_kib": rss_before, "bytes": os.path.getsize(args.out), "ort": onnxruntime.__version__,
                      "entropy_bins": args.entropy_bins or None}))


if __name__ == "__main__":
    main()
