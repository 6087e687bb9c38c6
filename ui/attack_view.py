"""Layout pieces of the adversarial examples page: the settings widgets, the three pictures, top-5 and Grad-CAM."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.sidebar import Selection
from vizcore import adversarial, cached, viz
from vizcore.images import image_hash

TOP_CLASSES = 5
CAM_OPACITY = 0.5
UNTARGETED = -1  # the target picker's first choice
# The epsilon slider's (lowest, highest, step) per norm, in pixel levels: the useful part of the
# library's range (vizcore/adversarial.py allows up to MAX_EPSILON), where a small value is easy to pick.
EPSILON_SLIDER = {"linf": (1.0, 16.0, 1.0), "l2": (16.0, 2048.0, 16.0)}


def attack_settings(selection: Selection) -> adversarial.AttackSettings:
    """The settings widgets (method, norm, epsilon, steps, step size, target) and the settings they make."""
    method_column, norm_column, epsilon_column, steps_column, step_column = st.columns([1, 1, 2, 2, 1])
    method = method_column.radio("Method", adversarial.METHODS, index=1, key="attack_method",
                                 format_func=str.upper, help="FGSM: one step of size epsilon. PGD: several smaller "
                                 "steps, each projected back within epsilon.")
    norm = norm_column.radio("Norm", adversarial.NORMS, key="attack_norm", format_func=adversarial.NORM_TITLES.get,
                             help="L∞ bounds every pixel value's change; L2 the length of the whole change.")
    lowest, highest, step = EPSILON_SLIDER[norm]
    epsilon = epsilon_column.slider(
        f"Epsilon ({adversarial.NORM_TITLES[norm]}, pixel levels)", lowest, highest, adversarial.DEFAULT_EPSILON[norm],
        step, key=f"attack_epsilon_{norm}", help="The largest change allowed, in 0-255 pixel levels.",
    )
    steps = steps_column.slider("Steps", 1, 100, adversarial.DEFAULT_STEPS, key="attack_steps", disabled=method == "fgsm",
                                help="PGD steps (FGSM takes one).")
    step_size = step_column.number_input(
        "Step (px, 0: auto)", 0.0, float(epsilon), 0.0, 0.25, key=f"attack_step_size_{norm}",
        help="Pixel levels per step; 0 takes the default: epsilon for FGSM, 2.5 x epsilon / steps for PGD.",
    )
    target = target_picker(selection)
    return adversarial.AttackSettings(
        method=method, norm=norm, epsilon=float(epsilon), steps=int(steps) if method == "pgd" else 1,
        step_size=float(step_size) or None,
        target=None if target == UNTARGETED else int(target),
    )


def target_picker(selection: Selection) -> int:
    """UNTARGETED, or a class index: every class by name (type to search)."""
    names = selection.model.class_names
    choices = [UNTARGETED, *sorted(range(len(names)), key=lambda index: names[index].lower())]
    return st.selectbox(
        "Target class", choices, key=f"attack_target_{selection.model_name}",
        format_func=lambda index: "Untargeted: any other class" if index == UNTARGETED else f"{names[index]} ({index})",
        help="Untargeted: push the image away from its class. A target: pull it towards that class.",
    )


def verdict(result: adversarial.Attack) -> None:
    """One line: did the saved image fool the model, and how large the change is."""
    before, after = result.original_class, result.adversarial_class
    size = f"L∞ {result.linf:g}, L2 {result.l2:.1f} pixel levels, {result.steps_done} steps in {result.seconds:.1f} s"
    if result.success:
        st.success(f"Fooled: the saved PNG is **{after.label}** ({after.probability:.1%}), the original "
                   f"**{before.label}** ({before.probability:.1%}). Change: {size}.")
    else:
        wanted = f"not {result.target.label}" if result.target is not None else "still the same class"
        st.warning(f"Not fooled: the saved PNG is {wanted}, **{after.label}** ({after.probability:.1%}). "
                   f"Change: {size}. A larger epsilon or more steps may succeed.")


def pictures(result: adversarial.Attack) -> None:
    """The original, the adversarial image (as saved) and the perturbation amplified, side by side."""
    amplified, scale = adversarial.amplified_perturbation(result)
    before, after = result.original_class, result.adversarial_class
    original_column, adversarial_column, change_column = st.columns(3)
    original_column.image(result.original, caption=f"Original: {before.label} · {before.probability:.1%}",
                          width="stretch")
    adversarial_column.image(result.adversarial, caption=f"Adversarial: {after.label} · {after.probability:.1%}",
                             width="stretch")
    change_column.image(amplified, caption=f"Perturbation × {scale} (grey: no change)", width="stretch")


def _top_rows(names, probabilities: np.ndarray) -> list[dict]:
    order = np.argsort(-probabilities)[:TOP_CLASSES]
    return [{"class": names[index], "index": int(index), "probability": float(probabilities[index])} for index in order]


def top_classes(result: adversarial.Attack, names) -> None:
    """Top-5 classes before and after, side by side."""
    column_config = {"probability": st.column_config.ProgressColumn("Probability", format="%.3f", min_value=0.0,
                                                                    max_value=1.0)}
    for column, title, probabilities in zip(
        st.columns(2), ("Top-5 before", "Top-5 after (the saved PNG)"),
        (result.original_probabilities, result.adversarial_probabilities),
    ):
        column.markdown(f"**{title}**")
        column.dataframe(_top_rows(names, probabilities), hide_index=True, column_config=column_config)


def gradcam_moves(selection: Selection, result: adversarial.Attack) -> None:
    """Grad-CAM for the original class and the adversarial class, on the original and on the adversarial image.

    One row: per class, before and after side by side on one colour scale (the larger of the two
    maps' tops), so a class whose evidence fades shows fainter after, not rescaled to look the same.
    """
    classes = [result.original_class]
    if result.adversarial_class.class_index != result.original_class.class_index:
        classes.append(result.adversarial_class)
    columns = iter(st.columns(2 * len(classes)))
    for score in classes:
        maps = [(when, pixels, cached.attribution_map(selection.model_name, image_hash(pixels), pixels, "gradcam",
                                                      score.class_index, None, {}).values)
                for when, pixels in (("before", result.original), ("after", result.adversarial))]
        top = max(viz.display_top(values, "gradcam") for _, _, values in maps)
        for when, pixels, values in maps:
            picture = viz.map_overlay(pixels, viz.display_map(values, "gradcam", top or None), "gradcam", CAM_OPACITY)
            next(columns).image(picture, caption=f"Grad-CAM for {score.label}, {when}", width="stretch")
