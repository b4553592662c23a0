"""`streamlit run app.py` at the top of the checkout: the studio, as `charlstm studio` starts it.

The studio itself is charlstm_studio/app.py (installed with `pip install .`); this file runs it on every
rerun. Its settings reach Streamlit through .streamlit/config.toml here, a link to the studio's one file.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "charlstm_studio" / "app.py"), run_name="__main__")
