"""The Streamlit app: ``streamlit run app/main.py`` (pages in app_pages/, their logic in predict/ play/ explore/ about/, shared pieces in common/ and maps/)."""
