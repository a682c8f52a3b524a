"""Batch inference on Apache Beam: ``keras-cxr predict --runner beam``, on any runner Beam has.

The pipeline: match the files of a pattern -> decode each file's bytes with the project's one
preprocessing definition (:meth:`ImageConverter.convert_bytes`, the decoders ``predict`` uses) ->
``RunInference`` with :class:`CxrModelHandler`, which loads the model once per worker and scores
batches of ``min_batch_size``..``max_batch_size`` images -> CSV (or JSON-lines) shards.

No file is dropped: a file that cannot be read or decoded, or whose batch the model fails on, gets a
row with the reason in the main output's ``error`` column (as ``predict``'s CSV has it) and a line in
the dead-letter output ``PREFIX_errors-*.csv`` (``path,error``), and the counts are checked against
the files matched.

Apache Beam is an optional extra (``pip install keras-cxr[beam]``): the rest of the package never
imports this module, and this module imports without Beam so that its error can name the extra.

>>> from keras_cxr.predict.beam import run_beam_predictions
>>> run_beam_predictions("runs/convnext_at", "xrays/**.png", "out/preds",
...                      beam_options="--runner=DirectRunner --direct_num_workers=2")
"""

import csv
import dataclasses
import io
import json
import shlex

from keras_cxr.data.decode import ImageDecodeError
from keras_cxr.errors import KerasCxrError
from keras_cxr.predict.csv_output import _row, csv_columns
from keras_cxr.predict.runner import DEFAULT_BATCH_SIZE, Predictor, _conformal, load_predictor, score_images

try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import ModelHandler
except ImportError:  # the optional extra is not installed: everything below raises require_beam's error
    beam, ModelHandler = None, object

INSTALL_HINT = "Apache Beam is not installed: pip install 'keras-cxr[beam]' (apache-beam>=2.77)"
NAMESPACE = "keras_cxr"
ERRORS = "errors"
OUTPUT_FORMATS = ("csv", "jsonl")


class BeamNotInstalledError(KerasCxrError, ImportError):
    """The optional extra is missing (an ImportError; the command line prints its message alone)."""


def require_beam():
    """The ``apache_beam`` module, or an ImportError naming the extra to install."""
    if beam is None:
        raise BeamNotInstalledError(INSTALL_HINT)
    return beam


@dataclasses.dataclass(eq=False)
class _LoadedModel:
    """What a worker holds: a class instance, as Beam's shared-model cache keeps a weak reference to it."""

    predictor: Predictor
    sets: tuple = None


class CxrModelHandler(ModelHandler):
    """A Beam ``ModelHandler`` for any model ``predict`` reads (run directory, ``.keras``, SavedModel, ``.tflite``).

    Elements are ``(path, uint8 image)`` pairs, already converted; each yields ``predict``'s record
    (``path``, ``predicted``, ``probabilities`` and, with a ``conformal`` coverage, ``set``).
    RunInference loads the model once per worker process and shares it between the worker's threads.
    """

    def __init__(self, model, conformal=None, min_batch_size=1, max_batch_size=DEFAULT_BATCH_SIZE, **kwargs):
        require_beam()
        if not 1 <= min_batch_size <= max_batch_size:
            raise ValueError(f"Need 1 <= min_batch_size <= max_batch_size, got {min_batch_size} and {max_batch_size}")
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self._model = str(model)
        self._coverage = conformal

    def load_model(self):
        """The model, and its conformal sets when a coverage is asked for."""
        predictor = load_predictor(self._model)
        return _LoadedModel(predictor, _conformal(predictor, self._coverage))

    def run_inference(self, batch, model, inference_args=None):
        images, paths = [image for _, image in batch], [path for path, _ in batch]
        return score_images(model.predictor, images, paths, model.sets)

    def get_num_bytes(self, batch):
        return sum(int(image.nbytes) for _, image in batch)

    def get_metrics_namespace(self):
        return NAMESPACE


class DecodeImages(beam.DoFn if beam else object):
    """A matched file -> ``(path, uint8 model view)``; an unreadable one -> the ``errors`` output with the reason."""

    def __init__(self, converter):
        self._converter = converter

    def process(self, readable):
        path = readable.metadata.path
        try:
            yield path, self._converter.convert_bytes(readable.read(), path)
        except ImageDecodeError as error:
            yield beam.pvalue.TaggedOutput(ERRORS, {"path": path, "error": error.reason})
        except OSError as error:  # permissions, a file removed after matching, a storage failure
            yield beam.pvalue.TaggedOutput(ERRORS, {"path": path, "error": f"unreadable file ({error})"})


def _failed_batch(failure):
    """RunInference's dead letter ``(batch, (type, repr, traceback))`` -> one error record per image."""
    batch, (_, message, _) = failure  # message: the exception's repr, which names its type
    reason = f"model call failed: {' '.join(str(message).split())}"
    return [{"path": path, "error": reason} for path, _ in batch]


def _csv_line(cells):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _count(name):
    counter = beam.metrics.Metrics.counter(NAMESPACE, name)

    def count(record):
        counter.inc()
        return record
    return count


def _counted(record, name):
    beam.metrics.Metrics.counter(NAMESPACE, name).inc()
    return record


def _csv_row(record, classes, with_sets):
    return _csv_line(_row(record, classes, with_sets))


def _error_line(record):
    return _csv_line([record["path"], record["error"]])


def _json_line(record):
    return json.dumps(record, sort_keys=True)


def output_patterns(output_prefix, output_format="csv"):
    """Glob patterns of the shards a run writes: ``(predictions, dead letters)``.

    The dead letters are ``PREFIX_errors-...``, not ``PREFIX-errors-...``: Beam's text sink deletes every
    ``PREFIX-*-of-NNNNN.csv`` it did not write, which would take the dead-letter shards with it.
    """
    return f"{output_prefix}-[0-9]*-of-*.{output_format}", f"{output_prefix}_errors-[0-9]*-of-*.csv"


def build_pipeline(pipeline, model, input_pattern, output_prefix, predictor, conformal=None, min_batch_size=1,
                   max_batch_size=DEFAULT_BATCH_SIZE, output_format="csv"):
    """Add match -> decode -> RunInference -> write to ``pipeline``; returns ``(records, errors)`` PCollections.

    ``predictor``: the launcher's copy of the model, for its classes and converter (workers load their own).
    Every error also becomes a row of the main output, so it lists every matched file as ``predict``'s CSV does.
    """
    from apache_beam.io import fileio
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.ml.inference.base import RunInference

    handler = CxrModelHandler(model, conformal, min_batch_size, max_batch_size)
    decoded = (pipeline | "Match" >> fileio.MatchFiles(input_pattern)
               | "Read" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
               | "Decode" >> beam.ParDo(DecodeImages(predictor.converter)).with_outputs(ERRORS, main="images"))
    scored, failed = decoded.images | "Score" >> RunInference(handler).with_exception_handling()
    errors = ((decoded[ERRORS], failed.failed_inferences | "Unbatch failures" >> beam.FlatMap(_failed_batch))
              | "Gather errors" >> beam.Flatten() | "Count errors" >> beam.Map(_counted, "errors"))
    records = ((scored | "Count scored" >> beam.Map(_counted, "scored"), errors)
               | "Gather rows" >> beam.Flatten())
    if output_format == "csv":
        columns = csv_columns(predictor.classes, conformal)
        lines = records | "Format" >> beam.Map(_csv_row, predictor.classes, conformal is not None)
        lines | "Write" >> beam.io.WriteToText(output_prefix, file_name_suffix=".csv", header=_csv_line(columns))
    else:
        records | "Format" >> beam.Map(_json_line) | "Write" >> beam.io.WriteToText(output_prefix,
                                                                                    file_name_suffix=".jsonl")
    (errors | "Format errors" >> beam.Map(_error_line)
     | "Write errors" >> beam.io.WriteToText(f"{output_prefix}_errors", file_name_suffix=".csv",
                                             header="path,error"))
    return records, errors


def _matched_files(input_pattern):
    """How many files the pattern matches now; a pattern matching none is refused before any worker starts."""
    from apache_beam.io.filesystems import FileSystems

    try:
        matched = FileSystems.match([input_pattern])[0].metadata_list
    except Exception as error:  # BeamIOError, or a filesystem whose extra is missing (gs:// without gcp)
        raise ValueError(f"--input {input_pattern} cannot be listed: {error}") from None
    if not matched:
        raise ValueError(f"--input {input_pattern} matches no files")
    return len(matched)


def _clear_old_output(output_prefix, output_format, overwrite):
    """Old shards would be read as this run's output: refuse them, or delete them with ``overwrite``."""
    from apache_beam.io.filesystems import FileSystems

    old = [m.path for pattern in output_patterns(output_prefix, output_format)
           for m in FileSystems.match([pattern])[0].metadata_list]
    if old and not overwrite:
        raise ValueError(f"--output {output_prefix} already has {len(old)} shard(s) ({old[0]}, ...); pass "
                         "--overwrite (overwrite=True) to replace them, or choose another prefix")
    if old:
        FileSystems.delete(old)


def _counter_values(result):
    """``{name: value}`` of this module's counters (committed where the runner has them, else attempted)."""
    from apache_beam.metrics.metric import MetricsFilter

    values = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + (value or 0)
    return values


def _pipeline_options(beam_options):
    """A string (``"--runner=DirectRunner --direct_num_workers=2"``) or a list of flags -> PipelineOptions."""
    from apache_beam.options.pipeline_options import PipelineOptions

    flags = shlex.split(beam_options) if isinstance(beam_options, str) else list(beam_options or ())
    return PipelineOptions(flags)


def run_beam_predictions(model, input_pattern, output_prefix, beam_options=(), batch_size=DEFAULT_BATCH_SIZE,
                         min_batch_size=1, conformal=None, output_format="csv", overwrite=False):
    """Score every file ``input_pattern`` matches on a Beam runner (DirectRunner unless ``beam_options`` say).

    ``model``: a path every worker can read (a run directory, ``.keras``, SavedModel or ``.tflite``).
    ``batch_size``: the largest batch per model call (Beam grows batches from ``min_batch_size``).
    Returns ``{"output", "errors_output", "matched", "scored", "errors", "missing"}``: ``missing`` is the
    matched files neither scored nor reported (0 unless files changed during the run).
    """
    require_beam()
    if isinstance(model, Predictor):
        raise TypeError("run_beam_predictions needs the model's path: Beam workers load the model themselves")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    predictor = load_predictor(model)
    _conformal(predictor, conformal)  # refuse an uncalibrated model before any worker starts
    matched = _matched_files(input_pattern)
    _clear_old_output(output_prefix, output_format, overwrite)
    pipeline = beam.Pipeline(options=_pipeline_options(beam_options))
    build_pipeline(pipeline, str(model), input_pattern, output_prefix, predictor, conformal, min_batch_size,
                   batch_size, output_format)
    result = pipeline.run()
    result.wait_until_finish()
    counts = _counter_values(result)
    scored, errors = counts.get("scored", 0), counts.get("errors", 0)
    outputs = output_patterns(output_prefix, output_format)
    return {"output": outputs[0], "errors_output": outputs[1], "matched": matched, "scored": scored,
            "errors": errors, "missing": matched - scored - errors}
