"""Explore: browse the model's test-set errors (placeholder; built on app.maps and app.widgets)."""
import streamlit as st

st.title("🔎 Explore")
st.info("Coming soon: browse the test set on a map, by country and by error, with Grad-CAM for each photo.")
