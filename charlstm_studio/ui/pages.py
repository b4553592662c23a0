"""The studio's pages, named once: their files, whichever script Streamlit runs as the main one.

Streamlit resolves a relative page path against the main script's folder. The studio starts from
`charlstm_studio/app.py` (`charlstm studio`) or from the checkout's own `app.py` (`streamlit run app.py`),
so every `st.Page`, `st.switch_page` and `st.page_link` names its page by an absolute path from here.
"""

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent.parent / "app_pages"
GENERATE = str(PAGES_DIR / "generate.py")
CORPUS = str(PAGES_DIR / "corpus.py")
TRAIN = str(PAGES_DIR / "train.py")
INSIDE = str(PAGES_DIR / "inside.py")
MODELS = str(PAGES_DIR / "models.py")
GUESS = str(PAGES_DIR / "guess.py")
