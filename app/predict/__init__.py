"""Predict page logic: photo sources, inputs, predictions and their tables."""
