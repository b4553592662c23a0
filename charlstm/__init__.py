"""charlstm: character-level LSTMs you can train, watch and play with.

The core package. It never imports Streamlit; TensorFlow is imported only by the modules that
train (data, model, training), so generation and scoring start fast.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
