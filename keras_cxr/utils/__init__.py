"""Small helpers shared across keras_cxr modules."""
