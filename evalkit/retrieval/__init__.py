"""Chunking and retrieval indexes (BM25, dense, hybrid), cached on disk by content."""
