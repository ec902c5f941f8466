"""Pictures of a run, drawn with matplotlib's Agg backend and written atomically.

* :mod:`~dlzoo.plots.figures`: confusion matrix, decision boundary, image grids, bar tables;
* :mod:`~dlzoo.plots.curves`: learning curves;
* :mod:`~dlzoo.plots.visualizations`: the report sections of attribution pictures (``dlzoo
  visualize``, and the few test images a new run explains with ``train.explain_samples``).
"""
