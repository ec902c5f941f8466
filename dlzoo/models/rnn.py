"""Recurrent networks: hand-written LSTM and GRU cells, and the sequence classifier ``rnn``.

The cells spell out the gates with ``keras.ops`` and use exactly the weight layout of
``keras.layers.LSTMCell`` / ``GRUCell`` (``kernel``, ``recurrent_kernel``, ``bias``; gates
concatenated in Keras's order), so that the oracle test can copy Keras's weights into them and
compare outputs and gradients. Wrapped in ``keras.layers.RNN`` they run over a sequence like
the built-in layers.

The ``rnn`` builder is the sequence classifier of the course: SimpleRNN, GRU or LSTM, one or
more layers (stacked), optionally bidirectional, ending with the dlzoo classifier head (so the
``regress`` task can cut it off and put one linear unit instead: the adding problem).

Layer names: ``as_sequence`` (a (T,) signal becomes (T, 1)), ``recurrent1`` .. ``recurrentN``,
``dropout{i}``, then ``logits`` / ``probabilities`` from :mod:`dlzoo.models.heads`.

Pure Keras 3: ``keras`` and ``keras.ops`` only.
"""

import keras
from keras import layers, ops

from dlzoo.core import validation
from dlzoo.models import heads, layers_util, register

CELL_TYPES = ("simple", "gru", "lstm", "lstm_by_hand", "gru_by_hand")


@keras.saving.register_keras_serializable(package="dlzoo")
class HandLSTMCell(layers.Layer):
    """An LSTM cell written out gate by gate (Hochreiter & Schmidhuber 1997, with a forget gate).

    For input ``x_t`` and state ``(h_{t-1}, c_{t-1})``, with ``W`` the kernel, ``U`` the recurrent
    kernel, ``b`` the bias, all four gates side by side in Keras's order (input, forget, cell, output):

        i_t = sigmoid(x_t W_i + h_{t-1} U_i + b_i)        input gate: how much new content to write
        f_t = sigmoid(x_t W_f + h_{t-1} U_f + b_f)        forget gate: how much of c_{t-1} to keep
        g_t = tanh(x_t W_c + h_{t-1} U_c + b_c)           candidate content
        o_t = sigmoid(x_t W_o + h_{t-1} U_o + b_o)        output gate
        c_t = f_t * c_{t-1} + i_t * g_t                   the cell state: an *additive* update, so
                                                          gradients flow back through f_t, not through
                                                          a product of weight matrices
        h_t = o_t * tanh(c_t)

    The forget-gate bias starts at 1 (Jozefowicz et al. 2015; Keras's ``unit_forget_bias``).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = validation.check_integer("units", units, minimum=1)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        """Kernels (features, 4 units), (units, 4 units) and a bias (4 units)."""
        features = input_shape[-1]
        self.kernel = self.add_weight(shape=(features, 4 * self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        forget_bias = [0.0] * self.units + [1.0] * self.units + [0.0] * 2 * self.units
        self.bias = self.add_weight(shape=(4 * self.units,), initializer=keras.initializers.Constant(forget_bias),
                                    name="bias")

    def call(self, inputs, states, training=False):
        """One step: ``inputs`` (batch, features), ``states`` [h, c] -> (h_t, [h_t, c_t])."""
        previous_output, previous_cell = states[0], states[1]
        z = ops.matmul(inputs, self.kernel) + ops.matmul(previous_output, self.recurrent_kernel) + self.bias
        z_input, z_forget, z_cell, z_output = ops.split(z, 4, axis=-1)  # each (batch, units)
        input_gate = ops.sigmoid(z_input)
        forget_gate = ops.sigmoid(z_forget)
        candidate = ops.tanh(z_cell)
        output_gate = ops.sigmoid(z_output)
        cell = forget_gate * previous_cell + input_gate * candidate
        output = output_gate * ops.tanh(cell)
        return output, [output, cell]

    def get_config(self):
        """The constructor arguments (for model.keras)."""
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="dlzoo")
class HandGRUCell(layers.Layer):
    """A GRU cell written out gate by gate (Cho et al. 2014), in Keras's ``reset_after`` form.

    Gates side by side in Keras's order (update z, reset r, candidate h); the bias has two
    rows, one for the input part (``b``) and one for the recurrent part (``b^r``):

        z_t = sigmoid(x_t W_z + b_z + h_{t-1} U_z + b^r_z)        update gate
        r_t = sigmoid(x_t W_r + b_r + h_{t-1} U_r + b^r_r)        reset gate
        n_t = tanh(x_t W_h + b_h + r_t * (h_{t-1} U_h + b^r_h))    candidate ("reset after" U_h)
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t                      interpolation: like the LSTM's
                                                                  additive cell, a path where the
                                                                  gradient is multiplied by z_t only
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = validation.check_integer("units", units, minimum=1)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        """Kernels (features, 3 units), (units, 3 units) and a bias (2, 3 units)."""
        features = input_shape[-1]
        self.kernel = self.add_weight(shape=(features, 3 * self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 3 * self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(2, 3 * self.units), initializer="zeros", name="bias")

    def call(self, inputs, states, training=False):
        """One step: ``inputs`` (batch, features), ``states`` [h] -> (h_t, [h_t])."""
        previous = states[0] if isinstance(states, (list, tuple)) else states
        from_input = ops.matmul(inputs, self.kernel) + self.bias[0]  # (batch, 3 units)
        from_state = ops.matmul(previous, self.recurrent_kernel) + self.bias[1]
        input_z, input_r, input_h = ops.split(from_input, 3, axis=-1)
        state_z, state_r, state_h = ops.split(from_state, 3, axis=-1)
        update_gate = ops.sigmoid(input_z + state_z)
        reset_gate = ops.sigmoid(input_r + state_r)
        candidate = ops.tanh(input_h + reset_gate * state_h)
        output = update_gate * previous + (1.0 - update_gate) * candidate
        return output, [output]

    def get_config(self):
        """The constructor arguments (for model.keras)."""
        return {**super().get_config(), "units": self.units}


def recurrent_layer(cell, units, return_sequences, name, unroll=False, recurrent_initializer="default"):
    """A recurrent layer of type ``cell`` (see :data:`CELL_TYPES`) over a (batch, time, features) input."""
    initializer = "orthogonal" if recurrent_initializer == "default" else recurrent_initializer
    options = {"return_sequences": return_sequences, "unroll": unroll, "name": name}
    if cell == "simple":
        return layers.SimpleRNN(units, recurrent_initializer=initializer, **options)
    if cell == "gru":
        return layers.GRU(units, recurrent_initializer=initializer, **options)
    if cell == "lstm":
        return layers.LSTM(units, recurrent_initializer=initializer, **options)
    hand_cell = HandLSTMCell(units) if cell == "lstm_by_hand" else HandGRUCell(units)
    return layers.RNN(hand_cell, **options)


@register("rnn")
def build_rnn(input_shape, num_classes, *, cell="gru", units=64, num_layers=1, bidirectional=False,
              dropout_rate=0.0, unroll=False, recurrent_initializer="default"):
    """A sequence classifier: recurrent layer(s) read the sequence, the last output feeds the head.

    Args:
        input_shape: (time, features), or (time,) for a 1-D signal (read as one feature per step).
        num_classes: number of classes.
        cell: ``simple`` (SimpleRNN), ``gru``, ``lstm``, or the hand-written ``lstm_by_hand`` /
            ``gru_by_hand`` cells of this module.
        units: state size of each recurrent layer.
        num_layers: recurrent layers stacked (each but the last returns its whole sequence).
        bidirectional: read the sequence both ways and concatenate (Schuster & Paliwal 1997).
        dropout_rate: dropout between stacked layers and before the head.
        unroll: static unrolling (a copy of the cell per step in the graph) instead of a loop.
        recurrent_initializer: ``default`` (orthogonal) or a Keras initializer name, e.g. a
            large ``random_normal`` to show exploding gradients.
    """
    validation.check_choice("cell", cell, CELL_TYPES)
    units = layers_util.check_size("units", units)
    num_layers = layers_util.check_size("num_layers", num_layers)
    dropout_rate = validation.check_number("dropout_rate", dropout_rate, minimum=0.0, maximum=0.99)
    if len(input_shape) not in (1, 2):
        raise ValueError(f"rnn reads sequences of shape (time,) or (time, features), got inputs of shape {input_shape}")
    inputs = layers_util.inputs_for(input_shape)
    sequence = inputs if len(input_shape) == 2 else layers.Reshape((input_shape[0], 1), name="as_sequence")(inputs)
    for index in range(1, num_layers + 1):
        last = index == num_layers
        layer = recurrent_layer(cell, units, return_sequences=not last, name=f"recurrent{index}", unroll=unroll,
                                recurrent_initializer=recurrent_initializer)
        if bidirectional:
            layer = layers.Bidirectional(layer, name=f"bidirectional{index}")
        sequence = layer(sequence)
        if dropout_rate > 0:
            sequence = layers.Dropout(dropout_rate, name=f"dropout{index}")(sequence)
    outputs = heads.classifier_head(sequence, num_classes)
    return keras.Model(inputs, outputs, name=f"{'bi' if bidirectional else ''}{cell}_classifier")
