"""Sequence-to-sequence helpers shared by the RNN and transformer translators.

* :mod:`~dlzoo.seq2seq.vocabulary`: characters <-> ids (NumPy, and in the graph from strings);
* :mod:`~dlzoo.seq2seq.decoding`: greedy and beam search over any ``step(tokens, state)`` function;
* :mod:`~dlzoo.seq2seq.metrics`: exact match, per-character accuracy, edit distance, BLEU;
* :mod:`~dlzoo.seq2seq.serving`: the string-in / string-out function for the SavedModel.
"""
