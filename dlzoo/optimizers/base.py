"""The base class of dlzoo's hand-written optimizers, and the registry they enter by name.

``keras.optimizers.Optimizer`` already implements what every optimizer shares: the step
counter, the learning rate (a number or a schedule), gradient clipping, weight decay and
saving. :class:`ZooOptimizer` adds the up-front checks of those shared options, so that an
optimizer's own file holds only what makes it different::

    @register("momentum")
    @keras.saving.register_keras_serializable(package="dlzoo")
    class Momentum(ZooOptimizer):
        def __init__(self, learning_rate=0.01, momentum=0.9, **kwargs):   # its own options
            super().__init__(learning_rate=learning_rate, **kwargs)
            self.momentum = validation.check_fraction("momentum", momentum)
        def build(self, var_list): ...            # its state (velocities, moments)
        def update_step(self, gradient, variable, learning_rate): ...   # its update rule
        def get_config(self): ...                 # its own options, for saving

The registered Keras names (``"dlzoo>Momentum"``) are what ``.keras`` files store: renaming a
class would stop older files from loading.
"""

import inspect

import keras

from dlzoo.optimizers import shared_options
from dlzoo.core.registry import Registry

OPTIMIZERS = Registry("optimizer")
register = OPTIMIZERS.register


class ZooOptimizer(keras.optimizers.Optimizer):
    """A ``keras.optimizers.Optimizer`` that checks the options every optimizer accepts.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        clipnorm: if set (> 0), each gradient is rescaled so that its L2 norm is at most this.
        clipvalue: if set (> 0), each gradient element is clipped to [-clipvalue, clipvalue].
        global_clipnorm: if set (> 0), all gradients are rescaled together so that their
            joint L2 norm is at most this. Use at most one of the three clipping options.
        weight_decay: if set (>= 0), decoupled weight decay, applied by the Keras base class.
        name: the optimizer's name; derived from the class name when None.
        **kwargs: other keyword arguments of ``keras.optimizers.Optimizer`` (used when the
            optimizer is rebuilt from its config).
    """

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 weight_decay=None, name=None, **kwargs):
        learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay = (
            shared_options.check_common_options(
                learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay
            )
        )
        super().__init__(
            learning_rate=learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )

    @classmethod
    def option_names(cls):
        """The options a recipe may set: the subclass's own, then the shared ones.

        ``Momentum.option_names()`` is ``["learning_rate", "momentum", "clipnorm", "clipvalue",
        "global_clipnorm", "weight_decay"]``.
        """
        own = [
            parameter.name
            for parameter in inspect.signature(cls.__init__).parameters.values()
            if parameter.name not in ("self", "name")
            and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
        ]
        return own + [option for option in shared_options.COMMON_OPTIONS if option not in own]
