"""Shared code for every app of the collection, shipped as the `common` Lambda layer."""
