"""``dlzoo train``: the one entry for training a resolved recipe.

A recipe with a ``[sweep]`` trains every variant (:mod:`dlzoo.commands.sweep`) and compares them
in one report; any other recipe is one run (:mod:`dlzoo.commands.lifecycle`: prepare, run folder,
status, the protected block, the report). ``dlzoo bench`` and the Python API train through here.
"""


def train_recipe(config, out=None, quick=False, device="auto", echo=print):
    """Train a resolved recipe: every variant of a sweep, or the one run of any other recipe.

    Returns ``(run folder, metrics record)``.
    """
    from dlzoo.commands import lifecycle, sweep

    if config.get("sweep"):
        return sweep.run_sweep(config, out=out, quick=quick, device=device)
    return lifecycle.train(config, out=out, quick=quick, device=device, echo=echo)
