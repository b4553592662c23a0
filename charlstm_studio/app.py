"""charlstm studio: pick a text, train a character-level LSTM live, play with what it writes.

Run with `charlstm studio` (or `make run`), or `streamlit run app.py` at the top of the checkout, which
runs this file. The pages are in app_pages/ (named once, in ui/pages.py); the shared glue in ui/; the
server's settings in .streamlit/config.toml beside this file. The folder is deliberately not called
`pages/`: Streamlit treats a `pages/` folder next to the main script as an old-style multipage app until
the first session runs st.navigation, so the first visit to e.g. /train on a fresh server would run that
page alone, without this script.
"""

import streamlit as st

from charlstm_studio.ui import pages, sidebar, state

st.set_page_config(page_title="charlstm studio", page_icon="✍️", layout="wide")

navigation = [  # the first visit plays at once: a ready-made model writes, the temperature slider under it
    st.Page(pages.GENERATE, title="Generate", icon=":material/edit_note:", default=True),
    st.Page(pages.CORPUS, title="Corpus", icon=":material/description:"),
    st.Page(pages.TRAIN, title="Train", icon=":material/model_training:"),
    st.Page(pages.INSIDE, title="Inside the LSTM", icon=":material/neurology:"),
    st.Page(pages.GUESS, title="Guess the next character", icon=":material/psychology_alt:"),
    st.Page(pages.MODELS, title="Models", icon=":material/inventory_2:"),
]
page = st.navigation(navigation)
state.init()
state.link_notice(show=page.url_path != "train")  # the Train page says it in its own words, where the run was
page.run()
sidebar.show()  # after the page, so it shows what the page just chose
