"""The regression task: predict real values, trained with the mean squared error.

The model is the recipe's builder cut before its classifier head (the ``logits`` layer's
input: the features every dlzoo builder computes), followed by one linear unit per target:
``model.name = "linear"`` is the *linear neuron* ``w . x + b`` of the "cost functions" lesson,
``mlp`` a non-linear regressor. A last ``to_target_units`` layer (``y = mean + std * z``, the
training targets' statistics) lets the network's own outputs ``z`` stay near unit scale, and
the loss is computed on standardized targets (:class:`~dlzoo.models.losses.StandardizedTargetLoss`),
so it starts near 1 whatever the target's units and the recipe's learning rate works unchanged.
``model.keras`` and the SavedModel predict in the dataset's own units from raw inputs.

Metrics: MAE, RMSE and R² (scikit-learn's), with the fraction of variance explained as the
headline (``test_r2``); picture: predicted vs true values on the test split.
"""

import numpy as np

from dlzoo.plots import figures
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.supervised import SupervisedTask
from dlzoo.training.inference import predict, predict_split

LOSSES = ("auto", "mse", "mae", "huber")


@register("regress")
class RegressTask(SupervisedTask):
    """Regression of real-valued targets with ``model.fit``."""

    description = "regression (real values from inputs)"
    supports = frozenset({"check", "lr-find", "tune"})

    def check_config(self, config):
        """``train.loss`` is a regression loss; accuracy has no meaning here."""
        if config["train"]["loss"] not in LOSSES:
            raise UsageError(f"train.loss of a regression must be one of {', '.join(LOSSES)}, "
                             f"got {config['train']['loss']!r}")
        if config["expect"]["metric"].endswith("accuracy"):
            raise UsageError(f"expect.metric {config['expect']['metric']!r}: a regression reports mae, rmse and r2")

    def check_targets(self, splits):
        """A regressor needs real-valued targets."""
        if splits.targets != "values":
            raise UsageError(f"dataset {splits.name} has class labels; use task = \"classify\"")

    def build_model(self, config, splits):
        """Standardize -> the recipe's model up to its head -> one linear unit per target -> target units."""
        import keras
        from keras import layers

        from dlzoo.models import heads, preprocessing
        from dlzoo.tasks.supervised import build_trunk, with_standardization

        trunk = build_trunk(config, splits, 2)  # any head: it is cut off below
        features = trunk.get_layer(heads.LOGITS_LAYER).input  # (batch, features)
        outputs = layers.Dense(target_count(splits), name="prediction")(features)  # standardized units
        mean, std = target_statistics(splits)
        outputs = preprocessing.with_target_scaling(outputs, mean, std)
        return with_standardization(keras.Model(trunk.input, outputs, name=trunk.name), config, splits)

    def loss_and_metrics(self, config, splits):
        """The recipe's loss on standardized targets, and the mean absolute error in target units."""
        import keras

        from dlzoo.models.losses import StandardizedTargetLoss

        _, std = target_statistics(splits)
        kind = "mse" if config["train"]["loss"] == "auto" else config["train"]["loss"]
        return StandardizedTargetLoss(kind, std.tolist()), [keras.metrics.MeanAbsoluteError(name="mae")]

    def evaluate(self, model, splits, split):
        """MAE, RMSE, R² and the mean squared error of one split, in target units."""
        from sklearn import metrics

        predictions, y = predict_split(model, splits, split)
        predictions = predictions.reshape(y.shape)
        if split == "test":
            self.keep_test_outputs(model, splits, predictions, y)  # the predicted-vs-true picture shows them
        mse = float(metrics.mean_squared_error(y, predictions))
        return {"split": split, "dataset": splits.name, "examples": int(len(y)), "loss": mse, "mse": mse,
                "mae": float(metrics.mean_absolute_error(y, predictions)), "rmse": float(np.sqrt(mse)),
                "r2": float(metrics.r2_score(y, predictions))}

    baseline_metric = "r2"

    def headline_keys(self, split):
        """MSE (as the loss), MAE, RMSE and R² of every split."""
        return ("loss", "mae", "rmse", "r2")

    def headline(self, result):
        """MSE (as the loss), MAE, RMSE and R² of every split."""
        return {key: result[key] for key in self.headline_keys(result["split"])}

    def evaluation_line(self, result):
        """``test R² 0.482 · RMSE 53.1 · MAE 42.7 on 89 examples``."""
        return (f"{result['split']} R² {result['r2']:.4f} · RMSE {result['rmse']:.4g} · MAE {result['mae']:.4g} "
                f"on {result['examples']} examples")

    def draw(self, model, splits, folder, config, test_result):
        """Predicted vs true values on the test split, with the identity line."""
        kept = self.kept_test_outputs(model, splits)
        if kept is None:
            inputs, targets = splits.arrays("test")
            kept = predict(model, inputs).reshape(targets.shape), targets
        predictions, targets = kept
        figures.predicted_vs_true(targets, predictions, folder / "plots" / "predicted_vs_true.png",
                                title=f"{config['name']}: test R² {test_result['r2']:.3f}")

    def output_names(self):
        """``prediction``: the predicted value(s), in the target's units."""
        return ("prediction",)

    def serving_outputs(self, outputs):
        """The model's prediction, named."""
        return {"prediction": outputs}

    def predict(self, model, splits, inputs):
        """One predicted value per input."""
        predictions = predict(model, self.fit_inputs(inputs, splits))
        return [", ".join(f"{value:.4g}" for value in np.atleast_1d(row)) for row in predictions]


def target_count(splits):
    """Number of values predicted per example (1 for targets of shape (n,))."""
    return 1 if splits.y_train.ndim == 1 else int(splits.y_train.shape[1])


def target_statistics(splits):
    """Mean and standard deviation of the training targets (std 1 where constant)."""
    mean = splits.y_train.mean(axis=0).astype("float32")
    std = splits.y_train.std(axis=0).astype("float32")
    return mean, np.where(std < 1e-12, 1.0, std).astype("float32")
