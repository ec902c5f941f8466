"""The work behind each verb of the ``dlzoo`` command line: one module per verb, named for it.

``cli.py`` parses and checks what needs no TensorFlow, then calls one function here.
``train`` is the entry of training (:mod:`~dlzoo.commands.lifecycle`: one run;
:mod:`~dlzoo.commands.sweep`: the variants of a sweep).
"""
