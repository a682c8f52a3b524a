"""Trust before accuracy: leakage, label conflicts and confounds in a dataset (``keras-cxr audit``)."""

from keras_cxr.audit.confounding import confounding_table
from keras_cxr.audit.runner import audit_dataset

__all__ = ["audit_dataset", "confounding_table"]
