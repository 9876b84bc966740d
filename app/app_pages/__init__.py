"""Thin Streamlit pages (listed in ``app/main.py``); logic lives in plain modules under ``app/``."""
