"""The batch view of a photo collection (the "Your photos" page): uploads, table, filters, map (no Streamlit)."""
