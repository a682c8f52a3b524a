"""Where ImageNet weights come from, and how to have them on a machine without internet.

Every ``weights="imagenet"`` in keras_cxr loads one file that ``keras.applications``
publishes: :data:`IMAGENET_FILES` names it (Keras's file name, source URL and
checksum, copied from Keras's own code and checked against it by the tests, so
the table cannot drift from what Keras would download).

Before anything is downloaded the file is looked for, in this order:

1. ``$KERAS_CXR_WEIGHTS_DIR/<file>``: a folder of these files under Keras's
   names, as ``keras-cxr weights fetch NAME --dir DIR`` writes it on a
   connected machine (copy the folder to the offline one and point the
   variable at it);
2. ``<Keras cache>/<file>``: ``$KERAS_HOME/models`` (default
   ``~/.keras/models``), where Keras itself downloads and looks; where that
   folder is not writable, Keras downloads to ``/tmp/.keras/models`` instead,
   which is searched too.

A file found is checked against the published checksum (where Keras publishes
one; otherwise against the published size) before it is used; a mismatch is an
error naming both values, and the file is left in place. Only when no copy
exists does Keras's ``get_file`` download it into its cache; a failed download
(no internet) is a :class:`ImagenetWeightsNotFound` naming the model, the file,
its URL, its checksum and where to put it.
"""

import dataclasses
import hashlib
import os
from typing import Optional

from keras_cxr.errors import KerasCxrError

WEIGHTS_DIR_ENV = "KERAS_CXR_WEIGHTS_DIR"


@dataclasses.dataclass(frozen=True)
class ImagenetFile:
    """One ImageNet weight file of ``keras.applications``."""

    application: str  # keras.applications constructor, e.g. "ResNet50"
    include_top: bool
    fname: str  # the name Keras stores it under in its cache
    origin: str
    file_hash: Optional[str]  # md5 (32 hex digits) or sha256 (64); None where Keras publishes none
    # Bytes, as Keras's downloader reports them when it fetches the file ("N/N" progress lines of public
    # download logs); None where no such record was found: known once the file is fetched.
    size: Optional[int] = None

    @property
    def hash_algorithm(self):
        if self.file_hash is None:
            return None
        return "sha256" if len(self.file_hash) == 64 else "md5"

    @property
    def source(self):
        return f"keras.applications.{self.application}(include_top={self.include_top})"


_GCS = "https://storage.googleapis.com/tensorflow/keras-applications/"

# (application, include_top) -> file. Copied from keras/src/applications/*.py (the file names, URLs and
# file_hash arguments of their get_file calls); weights_test checks them against an actual Keras call.
IMAGENET_FILES = {
    (f.application, f.include_top): f
    for f in (
        ImagenetFile("ConvNeXtTiny", True, "convnext_tiny.h5", _GCS + "convnext/convnext_tiny.h5",
                     "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff"),
        ImagenetFile("ResNet50", False, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "4d473c1dd8becc155b73f8504c6f6626", 94765736),
        ImagenetFile("ResNet101", False, "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "resnet/resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "88cf7a10940856eca736dc7b7e228a21", 171446536),
        ImagenetFile("DenseNet121", False, "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "30ee3e1110167f948a6b9946edeeb738", 29084464),
        ImagenetFile("DenseNet201", False, "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "densenet/densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "c13680b51ded0fb44dff2d8f86ac8bb1", 74836368),
        ImagenetFile("MobileNet", False, "mobilenet_1_0_224_tf_no_top.h5",
                     _GCS + "mobilenet/mobilenet_1_0_224_tf_no_top.h5", None, 17225924),
        ImagenetFile("VGG16", False, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "6d6bbae143d832006294945121d1f1fc", 58889256),
        ImagenetFile("InceptionV3", False, "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     _GCS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "bcbd6486424b2319ff4ef7d526e38f63", 87910968),
        ImagenetFile("EfficientNetB0", False, "efficientnetb0_notop.h5",
                     "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
                     "50bc09e76180e00e4465e1a485ddc09d", 16705208),
    )
}


class ImagenetSource:
    """A registry ``imagenet_source``: ``source(weights)`` builds the keras.applications network.

    ``weights`` is what keras.applications takes: ``None``, ``"imagenet"`` or a path to the
    weight file (what :func:`keras_cxr.models.weights.load_weights` passes, after
    :func:`imagenet_weights_path` found or fetched it).
    """

    def __init__(self, application, include_top=False):
        self.application = application
        self.include_top = include_top
        self.file = IMAGENET_FILES[(application, include_top)]

    def __call__(self, weights):
        import keras

        return getattr(keras.applications, self.application)(include_top=self.include_top, weights=weights)

    def __repr__(self):
        return f"ImagenetSource({self.application!r}, include_top={self.include_top})"


class ImagenetWeightsNotFound(KerasCxrError, FileNotFoundError):
    """No copy of an ImageNet weight file, and no way to download it."""


class ImagenetWeightsMismatch(KerasCxrError, ValueError):
    """A copy of an ImageNet weight file whose checksum (or size) is not the published one."""


def keras_cache_dir():
    """Keras's download folder for application weights: ``$KERAS_HOME/models`` (default ``~/.keras/models``)."""
    from keras.src.backend import config

    return os.path.join(os.path.expanduser(config.keras_home()), "models")


def _keras_fallback_dir():
    # keras.utils.get_file downloads to /tmp/.keras when the Keras home is not writable.
    from keras.src.backend import config

    home = os.path.expanduser(config.keras_home())
    if os.access(home, os.W_OK):
        return None
    import tempfile

    return os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras", "models")


def weights_dir():
    """The folder named by ``KERAS_CXR_WEIGHTS_DIR``, or None."""
    value = os.environ.get(WEIGHTS_DIR_ENV, "").strip()
    return os.path.expanduser(value) if value else None


def search_dirs(extra_dir=None):
    """Folders searched for a weight file, in order: ``extra_dir`` (or $KERAS_CXR_WEIGHTS_DIR), Keras's cache."""
    first = os.path.expanduser(os.fspath(extra_dir)) if extra_dir is not None else weights_dir()
    dirs = [first] if first else []
    dirs.append(keras_cache_dir())
    fallback = _keras_fallback_dir()
    if fallback:
        dirs.append(fallback)
    return dirs


def find_cached(file, extra_dir=None):
    """The first existing copy of ``file`` in :func:`search_dirs`, or None (nothing is verified)."""
    for folder in search_dirs(extra_dir):
        path = os.path.join(folder, file.fname)
        if os.path.isfile(path):
            return path
    return None


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(file, path, model=None):
    """Raise :class:`ImagenetWeightsMismatch` unless ``path`` has ``file``'s published checksum (or size)."""
    who = f"{model}: " if model else ""
    if file.file_hash is not None:
        actual = file_digest(path, file.hash_algorithm)
        if actual != file.file_hash:
            raise ImagenetWeightsMismatch(
                f"{who}{path} is not the ImageNet file Keras publishes: its {file.hash_algorithm} is {actual}, "
                f"expected {file.file_hash} ({file.origin}). It may be incomplete or another file under that "
                "name; it was left in place. Replace it with a fresh copy (keras-cxr weights fetch on a "
                "connected machine)."
            )
    elif file.size is not None and os.path.getsize(path) != file.size:
        raise ImagenetWeightsMismatch(
            f"{who}{path} has {os.path.getsize(path):,} bytes; the file Keras publishes ({file.origin}) has "
            f"{file.size:,} (Keras publishes no checksum for it). It may be incomplete; it was left in place. "
            "Replace it with a fresh copy (keras-cxr weights fetch on a connected machine)."
        )
    return path


def describe(file):
    """The lines naming a weight file: Keras's name, source, URL, checksum, size."""
    checksum = f"{file.hash_algorithm} {file.file_hash}" if file.file_hash else "none published by Keras"
    size = f"{file.size:,} bytes" if file.size else "unknown until fetched"
    return (
        f"  file:     {file.fname} (weights of {file.source})\n"
        f"  URL:      {file.origin}\n"
        f"  checksum: {checksum}\n"
        f"  size:     {size}"
    )


def missing_message(model, file, reason=None, extra_dir=None):
    cache = os.path.join(keras_cache_dir(), file.fname)
    looked = "\n".join(f"    {os.path.join(d, file.fname)}" for d in search_dirs(extra_dir))
    return (
        f"{model}: ImageNet weights are not on this machine"
        + (f" and could not be downloaded ({reason})" if reason else "")
        + ".\n"
        + describe(file)
        + "\n"
        + f"Looked in:\n{looked}\n"
        + "To use them offline:\n"
        + f"  - put the file at {cache} (Keras's cache: $KERAS_HOME/models, default ~/.keras/models), or\n"
        + f"  - on a connected machine run `keras-cxr weights fetch {model} --dir DIR`, copy DIR here and set "
        f"{WEIGHTS_DIR_ENV}=DIR, or\n"
        + f"  - pass weights=PATH: the {file.fname} file itself, or a .keras model saved from {file.source}.\n"
        + "Or train from scratch with weights=None (model.weights=null in a config)."
    )


def download(file, dest_dir=None, model=None):
    """Download ``file`` with Keras's ``get_file`` into ``dest_dir`` (default: Keras's cache); returns its path.

    It arrives as ``<file>.part`` and takes its real name only once its checksum (or size) is the
    published one, so an interrupted or corrupted download never sits under the name Keras looks for.
    """
    import keras

    part = file.fname + ".part"
    subdir = os.path.abspath(os.path.expanduser(os.fspath(dest_dir))) if dest_dir is not None else "models"
    path = None
    try:
        path = keras.utils.get_file(part, file.origin, cache_subdir=subdir, file_hash=file.file_hash,
                                    force_download=True)  # a stale .part of an earlier try is not reused
        verify(file, path, model)
    except Exception as error:  # Keras raises a bare Exception for "URL fetch failure ..."
        if path is None:
            path = os.path.join(subdir if dest_dir is not None else keras_cache_dir(), part)
        if os.path.isfile(path):
            os.remove(path)  # our own partial download, never a user's file
        if isinstance(error, ImagenetWeightsMismatch):
            raise
        raise ImagenetWeightsNotFound(
            missing_message(model or file.application, file, reason=str(error), extra_dir=dest_dir)
        ) from error
    final = os.path.join(os.path.dirname(path), file.fname)
    os.replace(path, final)
    return final


def imagenet_weights_path(model, file, download_missing=True):
    """A verified local copy of ``file`` for ``model`` (a registry name), downloading it if allowed.

    Raises :class:`ImagenetWeightsNotFound` (no copy, download impossible or refused) or
    :class:`ImagenetWeightsMismatch` (a copy with the wrong checksum; never deleted).
    """
    found = find_cached(file)
    if found:
        return verify(file, found, model)
    if not download_missing:
        raise ImagenetWeightsNotFound(missing_message(model, file))
    return download(file, weights_dir(), model)


def fetch(file, dest_dir=None, model=None):
    """Make sure ``dest_dir`` (default $KERAS_CXR_WEIGHTS_DIR, else Keras's cache) holds a verified ``file``.

    Returns ``(path, how)``: how is "present" (already there, verified), "copied" (from another
    searched folder, verified) or "downloaded".
    """
    import shutil

    dest = os.path.expanduser(os.fspath(dest_dir)) if dest_dir is not None else (weights_dir() or keras_cache_dir())
    target = os.path.join(dest, file.fname)
    if os.path.isfile(target):
        return verify(file, target, model), "present"
    existing = find_cached(file)
    if existing:
        verify(file, existing, model)
        os.makedirs(dest, exist_ok=True)
        part = target + ".part"
        shutil.copyfile(existing, part)
        os.replace(part, target)
        return target, "copied"
    if dest_dir is None and weights_dir() is None:
        return download(file, None, model), "downloaded"
    created = not os.path.isdir(dest)
    os.makedirs(dest, exist_ok=True)
    try:
        return download(file, dest, model), "downloaded"
    except ImagenetWeightsNotFound:
        if created and not os.listdir(dest):
            os.rmdir(dest)  # the empty folder made for this download, nothing else
        raise


def weights_table(names=None, weights_dir=None, check=False):
    """One row per model: its ImageNet file (or why none), size, and the copy found here (or None).

    What ``keras-cxr weights list`` prints; ``check`` verifies each copy found (checksum, or size).
    """
    from keras_cxr.models import get_spec, list_models

    rows = []
    for name in names or list_models():
        spec = get_spec(name)
        file = getattr(spec.imagenet_source, "file", None)
        if file is None:
            note = spec.imagenet_note or "no ImageNet source"
            rows.append({"name": name, "source": None, "note": note, "file": None, "url": None, "checksum": None,
                         "size": None, "cached": None, "verified": None})
            continue
        cached = find_cached(file, weights_dir)
        size = file.size if file.size is not None else (os.path.getsize(cached) if cached else None)
        verified = None
        if cached and check:
            try:
                verify(file, cached, name)
                verified = True
            except ImagenetWeightsMismatch:
                verified = False
        rows.append({
            "name": name, "source": file.source, "note": None, "file": file.fname, "url": file.origin,
            "checksum": f"{file.hash_algorithm}:{file.file_hash}" if file.file_hash else None,
            "size": size, "size_known": file.size is not None, "cached": cached, "verified": verified,
        })
    return rows
