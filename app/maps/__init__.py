"""Folium map builders and offline layers shared by every page (no Streamlit)."""
