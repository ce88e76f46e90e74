"""Data: the smart-home command generator and the word-level tokenizer."""
