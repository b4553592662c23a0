"""The Keras model: ids -> (embedding or one-hot) -> 1-3 LSTM/GRU layers -> logits.

The classic preset is the seed's network exactly: one-hot input, LSTM(128), Dense over the
characters. We output logits and use a from-logits loss, which is the same maths as the seed's
softmax + categorical cross-entropy, only numerically safer.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .config import TrainConfig
from .weights import Weights, check_weights


class OneHot(layers.Layer):
    """Integer ids to one-hot vectors inside the graph (the seed's input, without a 685 MB array)."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def build_model(config: TrainConfig, vocab_size: int) -> keras.Model:
    """A fresh model. Window mode returns logits for the last position only, as the seed did."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    if config.embedding_dim:
        x = layers.Embedding(vocab_size, config.embedding_dim, name="embedding")(ids)
    else:
        x = OneHot(vocab_size, name="one_hot")(ids)
    rnn = layers.LSTM if config.cell == "lstm" else layers.GRU
    for i in range(config.layers):
        last = i == config.layers - 1
        return_sequences = not (last and config.mode == "window")
        x = rnn(config.units, return_sequences=return_sequences, name=f"rnn{i}")(x)
        if config.dropout:
            x = layers.Dropout(config.dropout, name=f"dropout{i}")(x)
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(ids, logits, name=f"charlstm_{config.preset}")


def get_weights(model: keras.Model) -> Weights:
    """The model's arrays under the names of the `.npz` format."""
    out: Weights = {}
    for layer in model.layers:
        arrays = layer.get_weights()
        if layer.name == "embedding":
            out["input/embedding"] = arrays[0]
        elif layer.name.startswith("rnn"):
            for key, array in zip(("kernel", "recurrent_kernel", "bias"), arrays, strict=True):
                out[f"{layer.name}/{key}"] = array
        elif layer.name == "logits":
            out["logits/kernel"], out["logits/bias"] = arrays
    return out


def set_weights(model: keras.Model, weights: Weights, config: TrainConfig, vocab_size: int) -> None:
    """Load checked arrays into a model built by `build_model` from the same config."""
    check_weights(weights, config, vocab_size)
    for layer in model.layers:
        if layer.name == "embedding":
            layer.set_weights([weights["input/embedding"]])
        elif layer.name.startswith("rnn"):
            layer.set_weights([weights[f"{layer.name}/{k}"] for k in ("kernel", "recurrent_kernel", "bias")])
        elif layer.name == "logits":
            layer.set_weights([weights["logits/kernel"], weights["logits/bias"]])


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    kwargs = {"learning_rate": float(config.learning_rate)}  # Keras refuses an int (JSON may hold 1, not 1.0)
    if config.clipnorm:
        kwargs["clipnorm"] = float(config.clipnorm)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=0.9, **kwargs)
    return keras.optimizers.Adam(**kwargs)


class LastBatchLoss(keras.metrics.Metric):
    """The loss of the latest batch alone (Keras logs only a running mean since the epoch began)."""

    def __init__(self, name: str = "batch_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.value = self.add_variable(shape=(), initializer="zeros", name="value", aggregation="mean")

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        self.value.assign(ops.mean(losses))

    def result(self):
        return ops.convert_to_tensor(self.value)

    def reset_state(self):
        self.value.assign(0.0)


def compile_model(model: keras.Model, config: TrainConfig, metrics: list | None = None) -> None:
    model.compile(
        optimizer=make_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics,
    )


def optimizer_state(model: keras.Model) -> dict[str, np.ndarray]:
    """Optimizer variables by position, so a resumed run continues exactly where it was."""
    return {f"v{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)}


def set_optimizer_state(model: keras.Model, state: dict[str, np.ndarray]) -> bool:
    """Restore saved optimizer variables; returns False (fresh optimizer) if they do not fit."""
    opt = model.optimizer
    if not opt.built:
        opt.build(model.trainable_variables)
    variables = opt.variables
    if len(state) != len(variables):
        return False
    arrays = [state[f"v{i:04d}"] for i in range(len(variables))]
    if any(a.shape != tuple(v.shape) for a, v in zip(arrays, variables, strict=True)):
        return False
    for a, v in zip(arrays, variables, strict=True):
        v.assign(a)
    return True
