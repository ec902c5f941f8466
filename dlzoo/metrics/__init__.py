"""Every number dlzoo reports about a model, from arrays (NumPy; a model only through inference).

* :mod:`~dlzoo.metrics.classification`: accuracy, per-class scores, calibration;
* :mod:`~dlzoo.metrics.translation`: exact match, per-character accuracy, edit distance, BLEU;
* :mod:`~dlzoo.metrics.samples`: generated samples judged by a classifier (coverage, Fréchet);
* :mod:`~dlzoo.metrics.explanations`: attribution maps scored against true object masks;
* :mod:`~dlzoo.metrics.baselines`: classical models beside the network;
* :mod:`~dlzoo.metrics.initial_loss`: what the loss of an untrained model should be;
* :mod:`~dlzoo.metrics.performance`: a classifier's ROC, PR, reliability and mistake pictures.
"""
