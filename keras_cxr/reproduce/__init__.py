"""``keras-cxr reproduce``: each paper's protocol, recipes and tables, run end to end."""

from keras_cxr.reproduce.protocols import PROTOCOLS, Column, Protocol, Row, Table, get_protocol
from keras_cxr.reproduce.runner import quick_subset, reproduce, row_config

__all__ = ["PROTOCOLS", "Column", "Protocol", "Row", "Table", "get_protocol", "quick_subset", "reproduce",
           "row_config"]
