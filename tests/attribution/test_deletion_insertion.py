import numpy as np
import pytest


from vizcore import attribution


def test_curves_start_and_end_where_they_should(embedded_model, chelsea):
    result = attribution.gradcam(embedded_model, chelsea)
    curves = attribution.faithfulness(embedded_model, chelsea, result.values, result.class_index, steps=8)
    assert curves.fractions[0] == 0 and curves.fractions[-1] == 1
    assert curves.deletion[0] == curves.insertion[-1]  # both are the unchanged image
    assert curves.deletion[-1] == curves.insertion[0]  # both are the fully blurred image
    assert abs(curves.deletion[0] - result.probability) < 1e-4


def test_a_real_map_beats_its_own_inverse(embedded_model, chelsea):
    """Deleting the pixels Grad-CAM ranks first hurts more than deleting those it ranks last."""
    result = attribution.gradcam(embedded_model, chelsea)
    forward = attribution.faithfulness(embedded_model, chelsea, result.values, result.class_index)
    inverse = attribution.faithfulness(embedded_model, chelsea, -result.values, result.class_index)
    assert forward.deletion_area < inverse.deletion_area
    assert forward.insertion_area > inverse.insertion_area


def _curves(deletion_area, insertion_area):
    fractions = np.linspace(0.0, 1.0, 3)
    return attribution.FaithfulnessCurves(fractions, np.zeros(3), np.zeros(3), deletion_area, insertion_area)


def test_the_ranking_uses_both_curves_and_shows_the_rank_by_each():
    """A map that wins deletion but barely restores the class on insertion does not win the ranking."""
    ranked = attribution.rank_methods({
        "wins_deletion": _curves(0.05, 0.20),  # score 0.15
        "balanced": _curves(0.10, 0.50),  # score 0.40
        "wins_insertion": _curves(0.30, 0.60),  # score 0.30
    })
    assert [row.method for row in ranked] == ["balanced", "wins_insertion", "wins_deletion"]
    assert [row.rank for row in ranked] == [1, 2, 3]
    assert [row.deletion_rank for row in ranked] == [2, 3, 1]
    assert [row.insertion_rank for row in ranked] == [2, 1, 3]
    assert [round(row.score, 6) for row in ranked] == [0.4, 0.3, 0.15]


def test_ties_share_the_better_rank():
    ranked = attribution.rank_methods({"a": _curves(0.25, 0.75), "b": _curves(0.5, 1.0), "c": _curves(0.25, 0.5)})
    assert [(row.method, row.rank) for row in ranked] == [("a", 1), ("b", 1), ("c", 3)]


def test_kendall_tau_of_rankings():
    assert attribution.kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert attribution.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert attribution.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)


def test_a_real_map_outranks_its_inverse_and_a_flat_map(embedded_model, chelsea):
    result = attribution.gradcam(embedded_model, chelsea)
    maps = {"gradcam": result.values, "inverse": -result.values, "flat": np.zeros_like(result.values)}
    curves = {name: attribution.faithfulness(embedded_model, chelsea, values, result.class_index, steps=8)
              for name, values in maps.items()}
    ranked = attribution.rank_methods(curves)
    assert ranked[0].method == "gradcam" and ranked[-1].method == "inverse"
    assert ranked[0].score > 0 > ranked[-1].score
    assert abs(curves["flat"].score) < ranked[0].score  # pixels in random order: no better than chance
