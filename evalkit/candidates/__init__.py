"""Candidate configurations under evaluation: RAG pipelines, recorded outputs, models, endpoints."""
