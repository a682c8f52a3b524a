"""Which decisions does int8 change? Agreement with Keras split by the Keras decision margin.

A model is trained briefly on synthetic X-rays (``train_briefly``), exported to
full int8 by ``keras_cxr.export.export_model``, and both score further
synthetic X-rays; agreement is then tabulated by the Keras top-1 minus top-2
probability. A sound int8 export changes near ties, never firm decisions.

    python benchmarks/int8_margins.py --model mobilenet --steps 600
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

BINS = ((0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.5), (0.5, 1.01))


def litert_probs(path, images):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    probs = []
    for image in images:
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        probs.append(interpreter.get_tensor(target["index"])[0])
    return np.array(probs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, default=600, help="synthetic training steps")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--images", type=int, default=200, help="synthetic images scored by both")
    args = parser.parse_args(argv)
    import keras

    from keras_cxr.benchmark.tflite_speed import synthetic_batch, train_briefly
    from keras_cxr.data.synthetic import CLASSES
    from keras_cxr.export import export_model
    from keras_cxr.export.parity import decision_margins
    from keras_cxr.models import build_model, get_spec
    from keras_cxr.models.loading import LoadedModel

    keras.utils.set_random_seed(0)
    size = get_spec(args.model).default_input_shape[0]
    model = train_briefly(build_model(args.model, len(CLASSES), input_shape=(size, size, 3)), args.steps,
                          learning_rate=args.learning_rate)
    images, labels = synthetic_batch(size, args.images, seed=7)  # other seeds than training and calibration
    reference = model.predict(np.repeat(images.astype("float32") / 255, 3, axis=-1), verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        export_model(LoadedModel(model, list(CLASSES), args.model, Path(args.model)), path, quantize="int8")
        quantized = litert_probs(path, images)
    kept = reference.argmax(axis=1) == quantized.argmax(axis=1)
    margins = decision_margins(reference)
    print(f"{args.model}, {args.steps} steps: Keras accuracy {np.mean(reference.argmax(1) == labels):.3f}, "
          f"int8 accuracy {np.mean(quantized.argmax(1) == labels):.3f}, agreement {kept.mean():.3f} "
          f"on {len(images)} images")
    for low, high in BINS:
        inside = (margins >= low) & (margins < high)
        share = f"{kept[inside].mean():.3f}" if inside.any() else "-"
        print(f"  Keras margin {low:.2f}-{min(high, 1.0):.2f}: {int(inside.sum()):>4} images, agreement {share}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
