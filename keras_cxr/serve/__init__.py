"""``keras-cxr serve``: try a model on your own X-rays in a local web page (:mod:`keras_cxr.serve.app`)."""

from keras_cxr.serve.app import create_app, serve
from keras_cxr.serve.service import ModelService, load_service

__all__ = ["ModelService", "create_app", "load_service", "serve"]
