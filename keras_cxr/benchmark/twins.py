"""keras_cxr models against their PyTorch twins in timm, side by side on one machine.

Each keras_cxr network that timm also implements is timed against it in one
process, with the same thread count, batch, input size and class count, in
alternating windows (``interleaved_windows``), so both see the same machine
noise and the ratio is the steady result. Training is one AdamW step on
cross-entropy on both sides. PyTorch and timm are not keras_cxr dependencies:
``import_timm`` says what to install, and must run before TensorFlow is
imported (torchvision, which timm imports, crashes a process that already
loaded TensorFlow).
"""

import gc
import importlib.util
import sys

# keras_cxr model -> (timm model, how the keras_cxr model differs from it, or "" for the same network).
TIMM_TWINS = {
    "convnext_tiny": ("convnext_tiny", ""),
    "convnext_at": ("convnext_tiny", "CBAM in every block, no layer scale (Li et al. 2023)"),
    "resnet18": ("resnet18", ""),
    "resnet50": ("resnet50", ""),
    "resnet101": ("resnet101", ""),
    "resnet50_fpn_attention": ("resnet50", "FPN + self-attention (Chen et al., CT)"),
    "densenet121": ("densenet121", ""),
    "densenet201": ("densenet201", ""),
    "covid_densenet": ("densenet121", "multi-scale attention fusion (Covid-DenseNet)"),
    "dpn68": ("dpn68", ""),
    "dpn92": ("dpn92", ""),
    "dpn131": ("dpn131", ""),
    "dpn92_se": ("dpn92", "squeeze-and-excitation in every block (Cheng et al. (DPN-SENet))"),
    "mobilenet": ("mobilenetv1_100", ""),
    "efficientnet_b0": ("efficientnet_b0", ""),
    "vgg16": ("vgg16", "pooled head; timm keeps VGG's 4096-wide convolutional MLP"),
    "inception_v3": ("inception_v3", ""),
}


class MissingTwinLibraries(ImportError):
    """PyTorch/timm are not installed, or TensorFlow was imported first."""


def import_timm():
    """``(torch, timm)``; raises MissingTwinLibraries with the fix when they cannot be used here."""
    if "tensorflow" in sys.modules and "torch" not in sys.modules and importlib.util.find_spec("torch"):
        raise MissingTwinLibraries(
            "PyTorch must be imported before TensorFlow in this process (torchvision, imported by timm, "
            "crashes after TensorFlow); call keras_cxr.benchmark.twins.import_timm() first"
        )
    try:
        import torch
        import timm
    except ImportError as error:
        raise MissingTwinLibraries(
            f"--against timm needs PyTorch and timm ({error}); install them with `pip install torch torchvision "
            f"timm` (the CPU build of torch is enough)"
        ) from None
    return torch, timm


LAYOUTS = ("contiguous", "channels_last")


def _torch_steps(torch, model, images, labels):
    """Blocking (infer, train) functions of one timm model on one batch: softmax, or an AdamW step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(images).softmax(-1).numpy()

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return {"infer": infer, "train": train}


def timm_steps(timm_name, num_classes, size, batch, threads, layouts=LAYOUTS):
    """``{layout: {"infer", "train"}}`` for a fresh timm model in each memory layout, and its parameter count.

    Which layout PyTorch runs faster on the CPU depends on the network (oneDNN's
    blocked formats favour ``channels_last`` for plain convolutions; ConvNeXt's
    permuted LayerNorm can prefer the default), so both are timed and keras_cxr is
    compared with the faster one.
    """
    import copy

    torch, timm = import_timm()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = timm.create_model(timm_name, pretrained=False, num_classes=num_classes)
    images = torch.rand(batch, 3, size, size)
    labels = torch.randint(0, num_classes, (batch,))
    steps = {}
    for layout in layouts:
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        steps[layout] = _torch_steps(torch, copy.deepcopy(model).to(memory_format=fmt),
                                     images.contiguous(memory_format=fmt), labels)
    return steps, int(sum(p.numel() for p in model.parameters()))


def twin_versions():
    torch, timm = import_timm()
    return {"torch": torch.__version__, "timm": timm.__version__, "torch_threads": torch.get_num_threads()}


def compare_model(name, modes=("infer", "train"), batch_size=16, image_size=None, num_classes=4, threads=2,
                  windows=3, steps=1, layouts=LAYOUTS, twin_factory=timm_steps):
    """One row: keras_cxr vs its timm twin, images/s per mode (median of alternating windows) and the ratio.

    The ratio is against the faster of the twin's memory layouts, so it never flatters keras_cxr.
    ``twin_factory(timm_name, num_classes, size, batch, threads, layouts)`` returns
    ``({layout: {mode: step}}, params)``; ``timm_steps`` unless testing.
    """
    import keras

    from keras_cxr.benchmark.model_speed import compile_for_benchmark, keras_step
    from keras_cxr.benchmark.runner import build_benchmark_model
    from keras_cxr.benchmark.timing import interleaved_windows, median

    timm_name, adds = TIMM_TWINS[name]
    keras.utils.set_random_seed(0)
    model = compile_for_benchmark(build_benchmark_model(name, image_size, num_classes, 3))
    size = int(model.input_shape[1])
    twin, twin_params = twin_factory(timm_name, num_classes, size, batch_size, threads, layouts)
    row = {"model": name, "twin": f"timm {timm_name}", "adds": adds, "input": size,
           "params": int(model.count_params()), "twin_params": twin_params}
    for mode in modes:
        contenders = {"keras": keras_step(model, mode, batch_size)}
        contenders.update({f"timm {layout}": twin[layout][mode] for layout in layouts})
        rates = interleaved_windows(contenders, batch_size, windows=windows, steps=steps, warmup=1)
        medians = {who: median(r) for who, r in rates.items()}
        best = max((who for who in medians if who != "keras"), key=medians.get)
        row.update({f"{mode}_images_per_second": medians["keras"], f"{mode}_twin_images_per_second": medians[best],
                    f"{mode}_twin_layout": best.removeprefix("timm "), f"{mode}_ratio": medians["keras"] / medians[best],
                    f"{mode}_all": medians})
    del model, twin
    keras.backend.clear_session()
    gc.collect()
    return row


def compare_with_timm(models=None, progress=None, **options):
    """Rows of ``compare_model`` for ``models`` (default: every model with a twin); ``progress(row)`` after each.

    Each model is measured in a fresh process (:mod:`keras_cxr.benchmark.isolation`).
    """
    models = list(models or TIMM_TWINS)
    unknown = [m for m in models if m not in TIMM_TWINS]
    if unknown:
        raise ValueError(f"No timm twin for {unknown}; models with one: {', '.join(TIMM_TWINS)}")
    isolate = options.get("twin_factory", timm_steps) is timm_steps  # a test's fake twin cannot cross processes
    if isolate:
        import_timm()
    rows = []
    for name in models:
        row = _compare_isolated(name, options) if isolate else compare_model(name, **options)
        rows.append(row)
        if progress:
            progress(row)
    return rows


def _compare_isolated(name, options):
    """:func:`compare_model` in a fresh process (torch first); a failure becomes an ``error`` row."""
    from keras_cxr.benchmark.isolation import IsolatedProcessError, run_isolated

    try:
        return run_isolated("keras_cxr.benchmark.twins:compare_model", {"name": name, **options},
                            threads=options.get("threads"), import_first=("torch", "timm"))
    except IsolatedProcessError as error:
        timm_name, adds = TIMM_TWINS[name]
        return {"model": name, "twin": f"timm {timm_name}", "adds": adds, "error": str(error)}


def format_twin_table(rows, modes=("infer", "train")):
    """A Markdown table: images/s on both sides and the keras_cxr / timm ratio per mode.

    timm's figure is its faster memory layout: ``cl`` = channels_last, ``nchw`` = PyTorch's default.
    """
    header = "| model | timm twin | params (ours / timm) |"
    rule = "|---|---|---|"
    for mode in modes:
        header += f" {mode} img/s ours | {mode} img/s timm | {mode} ratio |"
        rule += "---:|---:|---:|"
    lines = [header, rule]
    for row in rows:
        twin = row["twin"].removeprefix("timm ") + (f" ({row['adds']})" if row["adds"] else "")
        if "error" in row:
            lines.append(f"| {row['model']} | {twin} | not measured: {row['error']} |" + " |" * (3 * len(modes) - 1))
            continue
        line = f"| {row['model']} | {twin} | {row['params'] / 1e6:.2f} M / {row['twin_params'] / 1e6:.2f} M |"
        for mode in modes:
            layout = "cl" if row.get(f"{mode}_twin_layout") == "channels_last" else "nchw"
            line += (f" {row[f'{mode}_images_per_second']:.2f} | {row[f'{mode}_twin_images_per_second']:.2f} "
                     f"({layout}) | **{row[f'{mode}_ratio']:.2f}x** |")
        lines.append(line)
    return "\n".join(lines)
