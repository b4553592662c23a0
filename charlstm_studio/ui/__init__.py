"""The Streamlit glue: session state, the shared job registry, widgets the pages share.

Only this package and the page scripts import Streamlit; `charlstm` never does.
"""
