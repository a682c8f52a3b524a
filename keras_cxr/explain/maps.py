"""Explanation maps for one model and a batch of images, each in [0, 1] at the image's size.

Grad-CAM, Grad-CAM++, Score-CAM and saliency come from tf-keras-vis; LIME
from the ``lime`` package with scikit-image superpixels. Build an
:class:`Explainer` once per model (the CAM models are cloned once) and call it
on batches.
"""

import numpy as np

METHODS = ("gradcam", "gradcam++", "scorecam", "saliency", "lime")


def _normalise(heatmap):
    heatmap = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(heatmap.min()), float(heatmap.max())
    if high <= low:
        return np.zeros_like(heatmap)
    return (heatmap - low) / (high - low)


class Explainer:
    """Explanations of ``model`` (inputs in [0, 1], softmax output) by ``method``.

    Args:
        method: one of ``METHODS``.
        layer: feature map for CAM methods (default: :func:`find_target_layer`).
        scorecam_max_n: Score-CAM channels used (the most active ones; -1 all).
        smooth_samples: SmoothGrad samples for saliency (0: plain gradients).
        lime_samples, lime_segmentation: LIME perturbations and superpixel method
            (``slic``, ``quickshift`` or ``felzenszwalb``).
    """

    def __init__(self, model, method="gradcam", layer=None, scorecam_max_n=32, smooth_samples=0,
                 lime_samples=300, lime_segmentation="slic", seed=0):
        if method not in METHODS:
            raise ValueError(f"Unknown explanation method {method!r}. Valid choices: {list(METHODS)}")
        self.model = model
        self.method = method
        self.seed = seed
        self.scorecam_max_n = scorecam_max_n
        self.smooth_samples = smooth_samples
        self.lime_samples = lime_samples
        self.lime_segmentation = lime_segmentation
        self.input_shape = tuple(int(d) for d in model.input_shape[1:])
        self.layer = None
        if method in ("gradcam", "gradcam++", "scorecam"):
            from keras_cxr.explain.target_layer import find_target_layer

            self.layer = find_target_layer(model, layer)
        self._visualizer = None if method == "lime" else self._make_visualizer()

    def _make_visualizer(self):
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        cls = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "scorecam": Scorecam, "saliency": Saliency}
        # Score-CAM scores softmax probabilities (as its paper does); gradient methods use the logits.
        modifier = None if self.method == "scorecam" else ReplaceToLinear()
        return cls[self.method](self.model, model_modifier=modifier, clone=True)

    def predict(self, images):
        return np.asarray(self.model.predict(np.asarray(images, np.float32), verbose=0, batch_size=32))

    def __call__(self, images, class_indices):
        """Maps (n, H, W) in [0, 1] for model-sized ``images`` (n, H, W, C) and target classes."""
        images = np.asarray(images, np.float32)
        class_indices = [int(c) for c in np.atleast_1d(class_indices)]
        if images.shape[1:] != self.input_shape:
            raise ValueError(f"Images must be {self.input_shape}, got {images.shape[1:]}")
        if self.method == "lime":
            return np.stack([self._lime(image, c) for image, c in zip(images, class_indices)])
        from tf_keras_vis.utils.scores import CategoricalScore

        score = CategoricalScore(class_indices)
        if self.method == "saliency":
            maps = self._visualizer(score, images, smooth_samples=self.smooth_samples, smooth_noise=0.1)
        elif self.method == "scorecam":
            maps = self._visualizer(score, images, penultimate_layer=self.layer, max_N=self.scorecam_max_n)
        else:
            maps = self._visualizer(score, images, penultimate_layer=self.layer)
        maps = np.asarray(maps).reshape(len(images), *self.input_shape[:2])
        return np.stack([_normalise(m) for m in maps])

    def _lime(self, image, class_index):
        from lime import lime_image
        from lime.wrappers.scikit_image import SegmentationAlgorithm

        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        channels = self.input_shape[-1]

        def classify(batch):
            batch = np.asarray(batch, np.float32)
            if channels == 1:
                batch = batch.mean(axis=-1, keepdims=True)
            return self.predict(batch)

        options = {"slic": dict(n_segments=50, compactness=10, sigma=1, start_label=0),
                   "quickshift": dict(kernel_size=4, max_dist=200, ratio=0.2),
                   "felzenszwalb": dict(scale=100, sigma=0.5, min_size=50)}
        if self.lime_segmentation not in options:
            raise ValueError(f"Unknown LIME segmentation {self.lime_segmentation!r}. Valid: {list(options)}")
        segmenter = SegmentationAlgorithm(self.lime_segmentation, **options[self.lime_segmentation])
        explanation = lime_image.LimeImageExplainer(random_state=self.seed).explain_instance(
            rgb.astype(np.float64), classify, labels=(class_index,), top_labels=None, hide_color=0.0,
            num_samples=self.lime_samples, batch_size=32, segmentation_fn=segmenter, random_seed=self.seed,
        )
        weights = dict(explanation.local_exp[class_index])
        heatmap = np.vectorize(lambda s: max(weights.get(s, 0.0), 0.0))(explanation.segments).astype(np.float32)
        # Positive weights only: the superpixels that support the class (Cheng et al.'s red regions, Fig. 7).
        return heatmap / heatmap.max() if heatmap.max() > 0 else heatmap


def resize_map(heatmap, shape):
    """Resize a [0, 1] map to ``shape`` (height, width), keeping [0, 1]."""
    from skimage.transform import resize

    if tuple(heatmap.shape) == tuple(shape):
        return heatmap
    return np.clip(resize(heatmap, shape, order=1, preserve_range=True, anti_aliasing=False), 0, 1).astype(np.float32)


def explain_array(model, image, method="gradcam", class_index=None, layer=None, converter=None, **options):
    """One image (H, W) or (H, W, C) in [0, 1], any size -> map (H, W) in [0, 1]; the notebook API.

    ``class_index`` defaults to the predicted class; ``converter`` (default: a plain resize to the
    model's input) is the run's :class:`ImageConverter` (``load_classifier(run).converter``).
    """
    image = np.asarray(image, np.float32)
    gray = image if image.ndim == 2 else image.mean(axis=-1)
    explainer = Explainer(model, method, layer=layer, **options)
    model_input = prepare_input(gray, explainer.input_shape, converter)
    if class_index is None:
        class_index = int(explainer.predict(model_input[None])[0].argmax())
    heatmap = explainer(model_input[None], [class_index])[0]
    return map_to_image(heatmap, gray.shape, converter)


def prepare_input(gray, input_shape, converter=None):
    """A grayscale [0, 1] image as the model sees it (the one preprocessing definition), with its channels."""
    from keras_cxr.data.image_converter import ImageConverter

    height, width, channels = input_shape
    converter = converter or ImageConverter(height)
    if converter.image_size != height or height != width:
        raise ValueError(f"The converter makes {converter.image_size} px images, the model takes {height}x{width}")
    view = converter.convert_array(gray).astype(np.float32) / 255.0
    return np.repeat(view, channels, axis=-1)


def map_to_image(heatmap, shape, converter=None):
    """A map over the model's view -> a map over the original (H, W) image (zero outside a centre crop)."""
    if converter is None or converter.crop_fraction == 1.0:
        return resize_map(heatmap, shape)
    top, left, bottom, right = converter.crop_box(shape)
    full = np.zeros(shape, np.float32)
    full[top:bottom, left:right] = resize_map(heatmap, (bottom - top, right - left))
    return full
