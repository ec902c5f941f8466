"""The leaves every part of dlzoo may use; they import nothing else of dlzoo.

* :mod:`~dlzoo.core.errors`: the two kinds of failure the CLI distinguishes (exit 2 and exit 1);
* :mod:`~dlzoo.core.registry`: named registries with did-you-mean errors;
* :mod:`~dlzoo.core.validation`: up-front checks of arguments and recipe values;
* :mod:`~dlzoo.core.quiet`: importing TensorFlow without its start-up log lines.
"""
