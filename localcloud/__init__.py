"""localcloud: run the collection's SAM templates on an embedded AWS (moto), without Docker."""

__all__ = ["__version__"]
__version__ = "0.1.0"
