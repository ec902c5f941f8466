"""Exercises lstm-cell and gru-cell: a Keras recurrent cell, gate by gate.

The student writes a ``keras.layers.Layer`` cell with the weights of ``keras.layers.LSTMCell`` /
``GRUCell`` (``kernel``, ``recurrent_kernel``, ``bias``, the gates side by side in Keras's order)
and ``call(inputs, states) -> (output, new_states)``, like the zoo's
:class:`dlzoo.models.rnn.HandLSTMCell`. The checker copies random weights (every gate's bias
different, so a gate mix-up shows) into the student's cell and into Keras's, runs both step by
step over the same sequence from the same non-zero initial state, and compares the outputs
(and the LSTM's cell state) at every time step. A cell that passes is then run inside
``keras.layers.RNN`` once, the way a model uses it.

Known mistakes are NumPy cells with one thing changed (gate order, a bias on the wrong gate,
a missing tanh, the GRU's other reset form, the interpolation the other way round).
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5


def _place(time_step):
    return f"time step {time_step}"


def _sigmoid(values):
    return 1.0 / (1.0 + np.exp(-values))


@functools.lru_cache(maxsize=None)
def _problem(kind):
    """Sequence (batch, time, features), initial states and the cell's weights, float32."""
    generator = np.random.default_rng(11 if kind == "lstm" else 12)
    gates = 4 if kind == "lstm" else 3
    sequence = generator.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    initial_states = [generator.normal(0.0, 0.5, size=(BATCH, UNITS)).astype("float32")
                      for _ in range(2 if kind == "lstm" else 1)]
    bias_shape = (gates * UNITS,) if kind == "lstm" else (2, gates * UNITS)
    weights = {
        "kernel": generator.normal(0.0, 0.5, size=(FEATURES, gates * UNITS)).astype("float32"),
        "recurrent_kernel": generator.normal(0.0, 0.5, size=(UNITS, gates * UNITS)).astype("float32"),
        "bias": generator.normal(0.0, 0.7, size=bias_shape).astype("float32"),
    }
    return sequence, initial_states, weights


def _weight_of(cell, name):
    """The cell's weight ``name`` (an attribute, else the variable whose path ends with it)."""
    weight = getattr(cell, name, None)
    if weight is not None and hasattr(weight, "assign"):
        return weight
    for variable in cell.weights:
        if variable.path.split("/")[-1] == name or variable.name == name:
            return variable
    return None


def _set_weights(cell, weights, class_name):
    """Copy the problem's weights into ``cell``; InterfaceProblem when one is missing or mis-shaped."""
    for name, value in weights.items():
        weight = _weight_of(cell, name)
        if weight is None:
            names = ", ".join(variable.path for variable in cell.weights) or "none"
            raise base.InterfaceProblem(f"the cell has no weight '{name}' after build() (its weights: {names})",
                                        f"create self.{name} = self.add_weight(...) in build(), with Keras's shapes")
        if tuple(weight.shape) != value.shape:
            raise base.InterfaceProblem(
                f"weight '{name}' has shape {tuple(weight.shape)}; keras.layers.{class_name}'s has {value.shape}",
                "the gates sit side by side along the last axis, in Keras's order (see the docstring)")
        weight.assign(value)


def _states_list(states):
    """A cell's states as a list (a GRU may return its one state as a tensor)."""
    return list(states) if isinstance(states, (list, tuple)) else [states]


def run_cell(cell, kind, record):
    """Step ``cell`` (built, weights set) over the problem's sequence, recording each step."""
    sequence, initial_states, _ = _problem(kind)
    states = [np.array(state) for state in initial_states]
    for time_step in range(TIME):
        record.place = _place(time_step + 1)
        output, states = cell(sequence[:, time_step].copy(), states)
        states = _states_list(states)
        record.add("output", output)
        if kind == "lstm":
            if len(states) != 2:
                raise base.InterfaceProblem(f"{_place(time_step + 1)}: the cell returned {len(states)} states, "
                                            "expected [h, c]", "return output, [output, cell]")
            record.add("cell_state", states[1])


class RecurrentCellExercise(base.Exercise):
    """What the two cell exercises share."""

    topic = "rnn"
    kind = "a class derived from keras.layers.Layer (a recurrent cell)"
    tolerance = 1e-4
    cell_kind = ""  # "lstm" or "gru"
    keras_class = ""  # "LSTMCell" or "GRUCell"

    def kind_problem(self, candidate):
        import keras

        if not isinstance(candidate, type):
            return f"is of type {type(candidate).__name__}, not a class"
        if not issubclass(candidate, keras.layers.Layer):
            return "is a class that does not derive from keras.layers.Layer"
        return None

    def expected(self):
        return _keras_record(self.cell_kind)

    def build_cell(self, candidate):
        """The student's cell, built for the problem's inputs and holding its weights."""
        cell = candidate(UNITS)
        cell.build((BATCH, FEATURES))
        _set_weights(cell, _problem(self.cell_kind)[2], self.keras_class)
        return cell

    def outputs(self, candidate, record):
        record.place = "while building the cell"
        run_cell(self.build_cell(candidate), self.cell_kind, record)

    def final_checks(self, candidate):
        """The cell must also run inside keras.layers.RNN (how a model uses it)."""
        import keras

        sequence, initial_states, _ = _problem(self.cell_kind)
        layer = keras.layers.RNN(self.build_cell(candidate), return_sequences=True)
        try:
            outputs = np.asarray(layer(sequence, initial_state=initial_states))
        except Exception as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return (f"the cell works step by step but not inside keras.layers.RNN: {type(error).__name__}: "
                    f"{message}"[:400], "set self.state_size (and self.output_size) in __init__, as in the skeleton")
        expected = np.stack([value for place, variable, value in self.expected().entries if variable == "output"], 1)
        message, _, _ = base.compare_arrays(expected, outputs.astype(np.float64), self.tolerance)
        if message:
            return (f"inside keras.layers.RNN the outputs differ: {message}",
                    "call() must take the states it is given and return the new ones: no state kept on self")
        return None

    def pattern_hint(self, difference, expected, got):
        step = int(difference.place.split()[-1]) if difference.place.startswith("time step") else 0
        if step > 1:
            return ("the first step(s) agree but not step {0}: the new states returned by call() are wrong "
                    "(or the recurrent kernel is applied to the wrong state)".format(step))
        return "compare each gate with the docstring: the gates' order in kernel, recurrent_kernel and bias"


@functools.lru_cache(maxsize=None)
def _keras_record(kind):
    """keras.layers.LSTMCell / GRUCell stepped over the sequence."""
    import keras

    sequence, initial_states, weights = _problem(kind)
    cell = keras.layers.LSTMCell(UNITS) if kind == "lstm" else keras.layers.GRUCell(UNITS)
    cell.build((BATCH, FEATURES))
    cell.set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    record = base.Record()
    run_cell(cell, kind, record)
    return record


# ---------------------------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------------------------


def _lstm_variant(order=(0, 1, 2, 3), bias_order=None, output_tanh=True, candidate="tanh"):
    """A NumPy LSTM whose student took the gates (i, f, c, o) from chunks ``order``."""

    def produce(record):
        sequence, (output, cell), weights = _problem("lstm")
        chunks = [np.split(weights[name].astype(np.float64), 4, axis=-1) for name in ("kernel", "recurrent_kernel")]
        bias_chunks = np.split(weights["bias"].astype(np.float64), 4)
        biases = [bias_chunks[index] for index in (bias_order or order)]
        kernels = [chunks[0][index] for index in order]
        recurrent = [chunks[1][index] for index in order]
        output, cell = output.astype(np.float64), cell.astype(np.float64)
        for time_step in range(TIME):
            record.place = _place(time_step + 1)
            z = [sequence[:, time_step] @ kernels[gate] + output @ recurrent[gate] + biases[gate] for gate in range(4)]
            input_gate, forget_gate, output_gate = _sigmoid(z[0]), _sigmoid(z[1]), _sigmoid(z[3])
            content = np.tanh(z[2]) if candidate == "tanh" else _sigmoid(z[2])
            cell = forget_gate * cell + input_gate * content
            output = output_gate * (np.tanh(cell) if output_tanh else cell)
            record.add("output", output)
            record.add("cell_state", cell)

    return produce


@exercises.register
class LSTMCellExercise(RecurrentCellExercise):
    """An LSTM cell in Keras's layout."""

    name = "lstm-cell"
    order = 50
    object_name = "MyLSTMCell"
    task = "class MyLSTMCell(keras.layers.Layer): four gates, LSTMCell's weights and gate order"
    cell_kind = "lstm"
    keras_class = "LSTMCell"

    def mistakes(self):
        """Forget bias on the input gate, gate orders of other libraries, no tanh on c, sigmoid content."""
        return [
            base.Mistake("the forget gate's bias on the input gate (bias chunks 0 and 1 swapped)",
                         "split the bias in the same order as the kernels: input, forget, cell, output",
                         _lstm_variant(bias_order=(1, 0, 2, 3))),
            base.Mistake("the gates in the order input, cell, forget, output (TensorFlow 1's i, j, f, o)",
                         "Keras's order is input, forget, cell (candidate), output", _lstm_variant(order=(0, 2, 1, 3))),
            base.Mistake("the input and forget gates swapped", "Keras's order is input, forget, cell, output",
                         _lstm_variant(order=(1, 0, 2, 3))),
            base.Mistake("h = o * c (no tanh of the cell state)", "h_t = o_t * tanh(c_t)",
                         _lstm_variant(output_tanh=False)),
            base.Mistake("the candidate content through a sigmoid", "the candidate is g_t = tanh(...): content can be "
                         "negative, the gates are sigmoids", _lstm_variant(candidate="sigmoid")),
        ]

    def skeleton(self):
        return LSTM_SKELETON


# ---------------------------------------------------------------------------------------------
# GRU
# ---------------------------------------------------------------------------------------------


def _gru_variant(reset_after=True, interpolation="keras", recurrent_bias=True, order=(0, 1, 2)):
    """A NumPy GRU with one known mistake switched on."""

    def produce(record):
        sequence, (state,), weights = _problem("gru")
        kernel = np.split(weights["kernel"].astype(np.float64), 3, axis=-1)
        recurrent = np.split(weights["recurrent_kernel"].astype(np.float64), 3, axis=-1)
        input_bias = np.split(weights["bias"][0].astype(np.float64), 3)
        state_bias = np.split(weights["bias"][1].astype(np.float64), 3)
        kernel, recurrent = [kernel[index] for index in order], [recurrent[index] for index in order]
        input_bias, state_bias = [input_bias[index] for index in order], [state_bias[index] for index in order]
        if not recurrent_bias:
            state_bias = [np.zeros_like(bias) for bias in state_bias]
        state = state.astype(np.float64)
        for time_step in range(TIME):
            record.place = _place(time_step + 1)
            inputs = sequence[:, time_step]
            update = _sigmoid(inputs @ kernel[0] + input_bias[0] + state @ recurrent[0] + state_bias[0])
            reset = _sigmoid(inputs @ kernel[1] + input_bias[1] + state @ recurrent[1] + state_bias[1])
            if reset_after:
                from_state = reset * (state @ recurrent[2] + state_bias[2])
            else:
                from_state = (reset * state) @ recurrent[2] + state_bias[2]
            candidate = np.tanh(inputs @ kernel[2] + input_bias[2] + from_state)
            if interpolation == "keras":
                state = update * state + (1.0 - update) * candidate
            else:
                state = (1.0 - update) * state + update * candidate
            record.add("output", state)

    return produce


@exercises.register
class GRUCellExercise(RecurrentCellExercise):
    """A GRU cell in Keras's reset_after layout."""

    name = "gru-cell"
    order = 51
    object_name = "MyGRUCell"
    task = "class MyGRUCell(keras.layers.Layer): update and reset gates, GRUCell's weights"
    cell_kind = "gru"
    keras_class = "GRUCell"

    def mistakes(self):
        """Interpolation reversed, reset before U_h, no recurrent bias, update and reset swapped."""
        return [
            base.Mistake("h = (1 - z) * h_prev + z * n (the interpolation the other way round)",
                         "in Keras z keeps the old state: h_t = z_t * h_prev + (1 - z_t) * n_t",
                         _gru_variant(interpolation="reversed")),
            base.Mistake("the reset gate applied before the recurrent kernel ((r * h) U_h, reset_after=False)",
                         "Keras's default (reset_after=True) resets after: r_t * (h_prev U_h + b^r_h)",
                         _gru_variant(reset_after=False)),
            base.Mistake("the recurrent bias (bias[1]) is not used", "bias has two rows: bias[0] is added to x W, "
                         "bias[1] to h U", _gru_variant(recurrent_bias=False)),
            base.Mistake("the update and reset gates swapped", "Keras's order is update z, reset r, candidate h",
                         _gru_variant(order=(1, 0, 2))),
        ]

    def skeleton(self):
        return GRU_SKELETON


LSTM_SKELETON = '''"""Exercise lstm-cell: an LSTM cell with the weights of keras.layers.LSTMCell.

Check it with:

    dlzoo exercise check lstm-cell THIS_FILE.py

The checker copies random weights into your cell and into keras.layers.LSTMCell, steps both
over the same sequence and compares h and c at every time step; then it runs your cell inside
keras.layers.RNN once. A passed cell works in a model: keras.layers.RNN(MyLSTMCell(64)).
"""

import keras
from keras import ops


class MyLSTMCell(keras.layers.Layer):
    """An LSTM cell (Hochreiter & Schmidhuber 1997, with a forget gate).

    With x_t the input, (h, c) the states, W = kernel (features, 4 units), U = recurrent_kernel
    (units, 4 units) and b = bias (4 units), the four gates side by side in Keras's order
    input i, forget f, cell candidate g, output o:

        i = sigmoid(x_t W_i + h U_i + b_i)
        f = sigmoid(x_t W_f + h U_f + b_f)
        g = tanh(x_t W_g + h U_g + b_g)
        o = sigmoid(x_t W_o + h U_o + b_o)
        c_t = f * c + i * g
        h_t = o * tanh(c_t)

    (W_i is the first quarter of the kernel's columns, W_f the second, and so on.)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]  # [h, c]: what keras.layers.RNN needs
        self.output_size = units

    def build(self, input_shape):
        """Create kernel (features, 4 units), recurrent_kernel (units, 4 units), bias (4 units)."""
        features = input_shape[-1]
        # TODO: self.kernel = self.add_weight(shape=..., initializer="glorot_uniform", name="kernel"),
        # and the same for recurrent_kernel ("orthogonal") and bias ("zeros").
        raise NotImplementedError("MyLSTMCell.build")

    def call(self, inputs, states):
        """One step: inputs (batch, features), states [h, c] -> (h_t, [h_t, c_t])."""
        h, c = states[0], states[1]
        # TODO: z = x W + h U + b, split into four (ops.split(z, 4, axis=-1)), the gates, c_t, h_t.
        raise NotImplementedError("MyLSTMCell.call")

    def get_config(self):
        """The constructor's arguments (for saving)."""
        return {**super().get_config(), "units": self.units}
'''

GRU_SKELETON = '''"""Exercise gru-cell: a GRU cell with the weights of keras.layers.GRUCell (reset_after=True).

Check it with:

    dlzoo exercise check gru-cell THIS_FILE.py

The checker copies random weights into your cell and into keras.layers.GRUCell, steps both
over the same sequence and compares h at every time step; then it runs your cell inside
keras.layers.RNN once. A passed cell works in a model: keras.layers.RNN(MyGRUCell(64)).
"""

import keras
from keras import ops


class MyGRUCell(keras.layers.Layer):
    """A GRU cell (Cho et al. 2014) in Keras's default form (reset_after=True).

    With x_t the input, h the state, W = kernel (features, 3 units), U = recurrent_kernel
    (units, 3 units) and a bias of two rows, b = bias[0] (for x W) and b^r = bias[1] (for h U),
    the gates side by side in Keras's order update z, reset r, candidate n:

        z = sigmoid(x_t W_z + b_z + h U_z + b^r_z)
        r = sigmoid(x_t W_r + b_r + h U_r + b^r_r)
        n = tanh(x_t W_n + b_n + r * (h U_n + b^r_n))      reset applied after U_n
        h_t = z * h + (1 - z) * n
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units  # what keras.layers.RNN needs
        self.output_size = units

    def build(self, input_shape):
        """Create kernel (features, 3 units), recurrent_kernel (units, 3 units), bias (2, 3 units)."""
        features = input_shape[-1]
        # TODO: self.kernel = self.add_weight(shape=..., initializer="glorot_uniform", name="kernel"),
        # and the same for recurrent_kernel ("orthogonal") and bias ("zeros").
        raise NotImplementedError("MyGRUCell.build")

    def call(self, inputs, states):
        """One step: inputs (batch, features), states [h] -> (h_t, [h_t])."""
        h = states[0] if isinstance(states, (list, tuple)) else states
        # TODO: x W + b and h U + b^r, each split into three (ops.split(..., 3, axis=-1)); z, r, n, h_t.
        raise NotImplementedError("MyGRUCell.call")

    def get_config(self):
        """The constructor's arguments (for saving)."""
        return {**super().get_config(), "units": self.units}
'''
