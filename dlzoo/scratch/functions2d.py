"""Two-dimensional loss surfaces for watching optimizers move (the ``optimizers-2d`` recipe).

Each surface is a loss f(x, y) with everything needed to run optimizers on it and to draw
their paths: its minima, a start point, a plotting window, a default number of steps and a
default learning rate for each of the course's six optimizers. Three lessons, three surfaces:

    name         f(x, y)                           minimum      what it shows
    quadratic    0.05 x^2 + 5 y^2                  (0, 0)       ill-conditioning: curvatures 0.1
                                                                and 10 (condition number 100)
    rosenbrock   (1 - x)^2 + 100 (y - x^2)^2       (1, 1)       a long, curved, flat valley
    saddle       x^2 + (y^2 - 1)^2 / 4             (0, +-1)     escaping a saddle point at (0, 0)

The saddle surface is a saddle with a floor: near (0, 0) it is x^2 - y^2 / 2 (curvature 2
along x, -1 along y), but the y^4 term bends it back up into two minima at (0, 1) and
(0, -1). Unlike the bare x^2 - y^2 (unbounded below, no minimum, every run "diverges"), it
has a distance to a minimum, and how far a run got from the saddle point says whether it
escaped. The start sits almost exactly on the saddle's stable direction (y = 1e-4), where
the gradient along y is tiny: plain gradient descent needs about log(1e4) / learning_rate
steps to leave; methods that rescale each coordinate (AdaGrad, RMSProp, Adam) leave at once.

Every loss is written with arithmetic operators only (``+ - * **``), so the same function
evaluates Python floats, NumPy grids (for contour plots) and Keras / TensorFlow tensors (for
gradients): no framework is imported here.
"""

import dataclasses
import math

from dlzoo.core.registry import Registry

SURFACES = Registry("test function")


@dataclasses.dataclass(frozen=True)
class LossSurface:
    """A 2-D loss with its minima, a start point, a plotting window and default settings.

    Attributes:
        name: the name a recipe uses (``"rosenbrock"``).
        formula: the loss as text, for titles and the report.
        loss: function ``(x, y) -> value`` using arithmetic operators only.
        minima: the global minima, a tuple of ``(x, y)`` points.
        start: where every optimizer starts, ``(x, y)``.
        x_range, y_range: the plotting window, ``(low, high)`` each.
        steps: default number of optimizer steps on this surface.
        learning_rates: default learning rate per optimizer name (tuned per surface: see the
            comments where each surface is registered).
        saddle_point: a saddle point to report the distance from, or None.
        lesson: one sentence for the report: what to look for in the picture.
    """

    name: str
    formula: str
    loss: object
    minima: tuple
    start: tuple
    x_range: tuple
    y_range: tuple
    steps: int
    learning_rates: dict
    saddle_point: tuple = None
    lesson: str = ""

    def __call__(self, x, y):
        """The loss at ``(x, y)``; floats, NumPy arrays or tensors."""
        return self.loss(x, y)

    @property
    def minimum_loss(self):
        """The loss at the (global) minima."""
        return float(self.loss(*self.minima[0]))

    def nearest_minimum(self, point):
        """The minimum closest to ``point`` (``(x, y)``)."""
        return min(self.minima, key=lambda minimum: math.dist(minimum, point))

    def distance_to_minimum(self, point):
        """Euclidean distance from ``point`` to the nearest minimum."""
        return math.dist(self.nearest_minimum(point), point)


def quadratic_bowl(x, y):
    """An ill-conditioned bowl: curvature 0.1 along x and 10 along y (condition number 100)."""
    return 0.05 * x**2 + 5.0 * y**2


def rosenbrock(x, y):
    """Rosenbrock's banana function (a = 1, b = 100): a curved valley, minimum 0 at (1, 1)."""
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def saddle_with_floor(x, y):
    """A saddle at (0, 0) (x^2 - y^2 / 2 near it) with two minima, 0 at (0, 1) and (0, -1)."""
    return x**2 + (y**2 - 1.0) ** 2 / 4.0


# Quadratic: gradient descent is stable only for learning_rate < 2 / 10 = 0.2 (the steep
# direction); SGD uses 0.18, near that limit, and still crawls along the flat x direction
# (its error shrinks by 1 - 0.1 * 0.18 per step). Momentum and Nesterov converge at 0.03;
# AdaGrad, RMSProp and Adam, which rescale each coordinate, take steps of about their
# learning rate per coordinate, so theirs is the length of a step.
SURFACES.register("quadratic")(LossSurface(
    name="quadratic", formula="0.05 x² + 5 y²", loss=quadratic_bowl,
    minima=((0.0, 0.0),), start=(-9.0, 1.5), x_range=(-10.0, 10.0), y_range=(-2.0, 2.0), steps=200,
    learning_rates={"sgd": 0.18, "momentum": 0.03, "nesterov": 0.03, "adagrad": 1.0, "rmsprop": 0.1, "adam": 0.1},
    lesson="SGD, at the largest stable rate, zig-zags across the narrow valley and then crawls along it; "
           "momentum builds up speed along it (and overshoots); the adaptive methods rescale each "
           "coordinate, so the flat direction gets steps as long as the steep one.",
))

# Rosenbrock from the classic start (-1.2, 1): the curvature across the valley reaches ~1300
# there, so gradient descent (and momentum) need learning_rate ~ 1e-3 (2e-3 diverges); the
# adaptive methods take larger rates. 1000 steps: the walk along the flat valley floor is long.
SURFACES.register("rosenbrock")(LossSurface(
    name="rosenbrock", formula="(1 − x)² + 100 (y − x²)²", loss=rosenbrock,
    minima=((1.0, 1.0),), start=(-1.2, 1.0), x_range=(-2.0, 2.0), y_range=(-1.0, 3.0), steps=1000,
    learning_rates={"sgd": 0.001, "momentum": 0.001, "nesterov": 0.001, "adagrad": 0.5, "rmsprop": 0.003,
                    "adam": 0.1},
    lesson="Every method drops into the valley at once; the walk along its flat, curved floor is what "
           "separates them: momentum, Nesterov and Adam reach (1, 1), SGD, AdaGrad and RMSProp are still on the way.",
))

# Saddle: the start is 1e-4 off the stable direction. Plain gradient descent escapes at rate
# (1 + learning_rate) per step, so 0.05 needs ~180 of the 200 steps; the others get small rates.
SURFACES.register("saddle")(LossSurface(
    name="saddle", formula="x² + (y² − 1)² / 4", loss=saddle_with_floor,
    minima=((0.0, 1.0), (0.0, -1.0)), start=(1.5, 1e-4), x_range=(-2.0, 2.0), y_range=(-1.5, 1.5), steps=200,
    learning_rates={"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.03},
    saddle_point=(0.0, 0.0),
    lesson="SGD, momentum and Nesterov slide down to the saddle point (0, 0) and sit on its plateau "
           "(loss 0.25) until the tiny offset along y has grown; AdaGrad, RMSProp and Adam rescale that tiny "
           "gradient and turn towards a minimum at once.",
))


def get(name):
    """The surface registered as ``name``; ``UnknownNameError`` (a ValueError) with a hint if none."""
    return SURFACES.get(name)


def names():
    """Names of the registered surfaces."""
    return SURFACES.names()
