"""evalkit: evaluation harness for grounded question answering.

Importing the package is cheap on purpose: heavy libraries (mlflow, torch, llama_index, ragas,
sentence_transformers) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
