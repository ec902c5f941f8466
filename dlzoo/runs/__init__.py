"""Run folders and what lives in them.

* :mod:`~dlzoo.runs.folders`: where a run writes, the one atomic writer, run lookup by name;
* :mod:`~dlzoo.runs.report`: ``report.md``, rebuilt from the files of the run;
* :mod:`~dlzoo.runs.load`: a run read back (its configuration, task and Keras model);
* :mod:`~dlzoo.runs.export`: SavedModels with the task's endpoints, verified after writing;
* :mod:`~dlzoo.runs.plugins`: your own code (models, optimizers, datasets), copied into runs.
"""
