"""evalkit's version, in a module of its own: the runner stamps it on every run and cache key, and
importing the package root for it would import the API above the runner."""

__version__ = "0.1.0"
