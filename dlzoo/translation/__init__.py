"""Sequence-to-sequence helpers shared by the RNN and transformer translators.

* :mod:`~dlzoo.translation.vocabulary`: characters <-> ids (NumPy, and in the graph from strings);
* :mod:`~dlzoo.translation.decoding`: greedy and beam search over any ``step(tokens, state)`` function;
* :mod:`~dlzoo.metrics.translation`: exact match, per-character accuracy, edit distance, BLEU;
* :mod:`~dlzoo.translation.serving`: the string-in / string-out function for the SavedModel.
"""
