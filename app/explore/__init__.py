"""Explore page logic: evaluation data, statistics, maps, charts, embeddings, tabs."""
