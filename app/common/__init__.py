"""Shared Streamlit pieces: cached resources and small widgets."""
