"""About page logic: the model card."""
