"""Metrics: retrieval (ranked ids), answer (against expected answers), grounding (judged), ragas adapters."""
