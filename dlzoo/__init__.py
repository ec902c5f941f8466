"""dlzoo: a TensorFlow/Keras model zoo and training CLI for a Deep Learning course.

Importing ``dlzoo`` is cheap: TensorFlow and Keras are imported only by the modules that need
them, so ``dlzoo --help``, ``dlzoo list`` and ``dlzoo show`` start fast.
"""

__version__ = "0.1.0"
