"""charlstm studio: the Streamlit app (app.py, app_pages/, ui/ and its one .streamlit/config.toml).

Start it with `charlstm studio` (or `make run`). This package is the only one that imports Streamlit;
`charlstm`, the core, never imports it or this package. Importing this package itself imports nothing.
"""
