"""scratchlstm: LSTM language models written from scratch in NumPy, running unchanged on CuPy."""
__version__ = "0.1.0"
