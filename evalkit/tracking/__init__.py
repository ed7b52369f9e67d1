"""Tracking sinks."""
