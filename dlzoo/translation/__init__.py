"""Sequence-to-sequence helpers shared by the RNN and transformer translators.

* :mod:`~dlzoo.translation.vocabulary`: characters <-> ids (NumPy, and in the graph from strings);
* :mod:`~dlzoo.translation.decoding`: greedy and beam search over any ``step(tokens, state)`` function;
* :mod:`~dlzoo.translation.serving`: the string-in / string-out function for the SavedModel;
* :mod:`~dlzoo.translation.side_by_side`: translators compared on the same inputs;
* :mod:`~dlzoo.translation.transformer_translation`: the transformer translator's options and pictures.

Their metrics are in :mod:`dlzoo.metrics.translation`.
"""
