"""The method table against the methods themselves: one row per method, the same defaults, the same limits."""

import inspect

import numpy as np
import pytest

from vizcore import attribution
from vizcore.attribution import methods
from vizcore.errors import VizcoreError

RANGED = [(method, option) for method in methods.TABLE for option in method.options if not option.choices]
CHOSEN = [(method, option) for method in methods.TABLE for option in method.options if option.choices]


def pair_id(pair):
    return f"{pair[0].name}-{pair[1].name}" if isinstance(pair, tuple) else None


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)


def test_the_library_names_and_titles_come_from_the_table():
    assert list(attribution.METHODS) == [method.name for method in methods.TABLE]
    assert attribution.METHOD_TITLES == {method.name: method.title for method in methods.TABLE}
    assert attribution.LAYER_METHODS == ("gradcam", "gradcam++", "scorecam", "guided-gradcam")
    assert attribution.METHOD_TITLES["guided"] == "Guided backprop"
    titles = [method.title for method in methods.TABLE]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("method", methods.TABLE, ids=lambda method: method.name)
def test_table_options_are_the_functions_keywords_with_the_same_defaults(method):
    parameters = inspect.signature(attribution.METHODS[method.name]).parameters
    assert ("layer" in parameters) == method.needs_layer
    for option in method.options:
        assert parameters[option.name].default == option.default, option.name
        assert isinstance(option.default, option.kind)
        option.check(option.default, method.title, 224)  # every default is inside its own range


def _bounds(option, input_size):
    """(values inside the range, values just outside it)."""
    step = 1 if option.kind is int else 0.01
    upper = option.upper(input_size)
    inside = [option.minimum] + ([upper] if upper is not None else [])
    outside = [option.minimum - step] + ([upper + step] if upper is not None else [])
    return [option.kind(value) for value in inside], [option.kind(value) for value in outside]


@pytest.mark.parametrize("method, option", RANGED, ids=[pair_id(pair) for pair in RANGED])
def test_the_table_range_is_the_range_the_method_accepts(method, option, nested_loaded, pixels):
    size = nested_loaded.spec.input_size
    inside, outside = _bounds(option, size)
    for value in inside:
        methods.check_options(method.name, {option.name: value}, size)
        result = attribution.explain(nested_loaded, pixels, method.name, class_index=0, **{option.name: value})
        assert result.values.shape == (size, size) and np.isfinite(result.values).all()
    for value in outside:
        with pytest.raises(VizcoreError) as from_table:
            methods.check_options(method.name, {option.name: value}, size)
        with pytest.raises(VizcoreError):
            attribution.explain(nested_loaded, pixels, method.name, class_index=0, **{option.name: value})
        sentence = str(from_table.value)
        assert sentence.startswith(f"{method.title} {option.label.lower()} must be ") and sentence.endswith(".")


@pytest.mark.parametrize("method, option", CHOSEN, ids=[pair_id(pair) for pair in CHOSEN])
def test_the_table_choices_are_the_choices_the_method_accepts(method, option, nested_loaded, pixels):
    for value in option.choices:
        methods.check_options(method.name, {option.name: value})
        attribution.explain(nested_loaded, pixels, method.name, class_index=0, **{option.name: value})
    with pytest.raises(VizcoreError, match=f"choose one of {', '.join(option.choices)}"):
        methods.check_options(method.name, {option.name: "white"})
    with pytest.raises(VizcoreError):
        attribution.explain(nested_loaded, pixels, method.name, class_index=0, **{option.name: "white"})


def test_input_size_bounds_wait_for_the_model():
    methods.check_options("occlusion", {"patch": 300})  # no model yet: the bound is not known
    with pytest.raises(VizcoreError, match="Occlusion patch must be 1 to 224 px, not 300 px."):
        methods.check_options("occlusion", {"patch": 300}, input_size=224)


def test_unknown_method_or_option_is_one_sentence():
    with pytest.raises(VizcoreError, match="Unknown method 'lime': choose one of occlusion, saliency"):
        methods.check_options("lime", {})
    with pytest.raises(VizcoreError, match="SmoothGrad has no option 'steps': it takes samples, noise."):
        methods.check_options("smoothgrad", {"steps": 10})
    with pytest.raises(VizcoreError, match="Saliency has no option 'samples': it takes no options."):
        methods.check_options("saliency", {"samples": 10})
