"""How much error does int8 add per layer? TensorFlow's QuantizationDebugger on a briefly trained model.

For every quantised op: the RMS difference between its int8 output (dequantised)
and the float model's, relative to the spread (standard deviation) of the float
output, on 32 synthetic X-rays. Rounding to 256 levels alone gives about 1%.

    python benchmarks/int8_layer_error.py --model mobilenet --steps 150
"""

import argparse
import csv
import io

import numpy as np


def relative_rmse(float_tensor, quantized, scale, zero_point):
    reference = np.asarray(float_tensor, np.float64)
    error = (np.asarray(quantized, np.float64) - zero_point) * scale - reference
    return float(np.sqrt(np.mean(error**2)) / (np.std(reference) + 1e-12))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    from keras_cxr.benchmark.tflite_speed import synthetic_batch, train_briefly
    from keras_cxr.data.synthetic import CLASSES
    from keras_cxr.models import build_model, get_spec

    keras.utils.set_random_seed(0)
    size = get_spec(args.model).default_input_shape[0]
    model = train_briefly(build_model(args.model, len(CLASSES), input_shape=(size, size, 3)), args.steps)
    images = np.repeat(synthetic_batch(size, 32, seed=5)[0].astype("float32") / 255, 3, axis=-1)

    def dataset():
        for image in images:
            yield [image[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"relative_rmse": relative_rmse})
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=dataset,
                                                         debug_options=options)
    debugger.run()
    buffer = io.StringIO()
    debugger.layer_statistics_dump(buffer)
    buffer.seek(0)
    for row in csv.DictReader(buffer):
        print(f"{row['op_name']:<20} {float(row['relative_rmse']):>8.3f}  {row['tensor_name'].split(';')[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
