"""Judges decide whether an answer is supported by its passages: the offline judge and model judges."""
