"""Small numerical studies of recurrent networks shared by tests, tasks and benchmarks."""

import numpy as np


def unrolling_difference(length=50, units=16, features=3, batch=4, seed=0):
    """Max |difference| between one LSTM run with ``unroll=True`` (static) and as a loop (dynamic).

    Both layers get the same weights; static unrolling copies the cell ``length`` times into the
    graph, the dynamic one runs a symbolic loop: the arithmetic is the same.
    """
    import keras

    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(batch, length, features)).astype("float32")
    static = keras.layers.LSTM(units, return_sequences=True, unroll=True)
    dynamic = keras.layers.LSTM(units, return_sequences=True, unroll=False)
    static_outputs = static(inputs)
    dynamic(inputs)
    dynamic.set_weights(static.get_weights())
    return float(np.max(np.abs(np.asarray(static_outputs) - np.asarray(dynamic(inputs)))))
