"""How every task trains, whatever it learns.

* :mod:`~dlzoo.training.devices`: seeds, the device, the distribution strategy, the precision;
* :mod:`~dlzoo.training.fit`: the one fit loop (history, checkpoints, guards, early stopping);
* :mod:`~dlzoo.training.state`: checkpoint state and ``--resume``;
* :mod:`~dlzoo.training.steps`: the VAE's and the GAN's own ``train_step``;
* :mod:`~dlzoo.training.inference`: batched predictions on arrays and streamed splits;
* :mod:`~dlzoo.training.callbacks`: Keras callbacks, one per file.
"""
