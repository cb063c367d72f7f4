"""The module componentize-py builds for every Python plugin: the class in the
plugin's `app.py`, exported for its world by the SDK's binding site."""

from weir_sdk._bind import AggregatorApi, SourceApi, TransformApi  # noqa: F401
