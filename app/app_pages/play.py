"""Play: head-to-head against the model (placeholder; built on app.maps and app.widgets)."""
import streamlit as st

st.title("🎮 Play")
st.info("Coming soon: guess where a test-set photo was taken, then see the model's guess and both scores.")
