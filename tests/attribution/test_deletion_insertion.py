
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
