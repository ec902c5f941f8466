"""Recipes and their configuration.

* :mod:`~dlzoo.config.recipes`: the recipe files, TOML in and out, defaults, ``--set`` parsing
  and the checks of fixed keys (a leaf: no registry, no TensorFlow);
* :mod:`~dlzoo.config.resolve`: the layered configuration checked against every registry
  (tasks, datasets, models, optimizers, plug-ins): what ``dlzoo train`` runs.
"""
