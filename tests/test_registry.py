"""The registry: decorator registration, lookup and did-you-mean errors."""

import pytest

from dlzoo.core.registry import Registry, UnknownNameError, did_you_mean


def test_register_and_get_returns_the_object():
    registry = Registry("widget")

    @registry.register("spinner")
    def spinner():
        return "spun"

    assert registry.get("spinner") is spinner
    assert "spinner" in registry and len(registry) == 1


def test_unknown_name_suggests_the_closest():
    registry = Registry("model")
    registry.register("lenet")(object)
    registry.register("resnet20")(object)
    with pytest.raises(UnknownNameError, match="unknown model 'lenit'; did you mean 'lenet'"):
        registry.get("lenit")


def test_unknown_name_without_close_match_lists_choices():
    registry = Registry("task")
    registry.register("classify")(object)
    with pytest.raises(UnknownNameError, match="choose one of: classify"):
        registry.get("zzz")


def test_duplicate_registration_is_refused():
    registry = Registry("model")
    registry.register("a")(int)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("a")(float)


def test_names_filter_by_pattern():
    registry = Registry("model")
    for name in ("resnet20", "resnet56", "lenet"):
        registry.register(name)(object)
    assert registry.names("resnet*") == ["resnet20", "resnet56"]
    assert did_you_mean("resnet2", registry.names()).startswith("did you mean 'resnet20'")
