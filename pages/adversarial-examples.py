"""Adversarial examples: the sidebar image changed by a few pixel levels so that the model changes its mind."""

from ui.navigation import run_through_app

run_through_app()  # first, before the slow imports below: ui/navigation.py says why

import io  # noqa: E402  (after run_through_app)
import json  # noqa: E402

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from ui.animation_view import RunAnimation  # noqa: E402
from ui.attack_view import attack_settings, gradcam_moves, pictures, top_classes, verdict  # noqa: E402
from ui.layout import page_intro  # noqa: E402
from ui.links import stop_page  # noqa: E402
from ui.live_run import StoppedRun, live_run  # noqa: E402
from ui.sidebar import current_selection  # noqa: E402
from vizcore import adversarial, animation, images  # noqa: E402

page_intro(
    "Adversarial examples",
    "The image is changed by at most epsilon pixel levels, in the direction that most changes the model's answer, until it "
    "predicts another class (or the target class you pick).",
    "Every result is the image rounded and saved as a PNG, then read back: the change survives saving, and the "
    "Grad-CAM maps below show how the explanation moves with it.",
)

selection = current_selection()
model = selection.model
settings = attack_settings(selection)
request = (selection.model_name, selection.image_key, settings)
steps = settings.total_steps
original = images.fit_to_model(selection.pixels, model.spec.input_size)  # what the attack changes
movie = RunAnimation("attack", request)
result = live_run(
    "attack", request, f"Attack ({steps} step{'s' if steps > 1 else ''})",
    lambda on_progress: movie.keep(adversarial.attack(model, selection.pixels, settings, on_progress=movie.recording(
        on_progress, lambda update: animation.change_frame(original, update.images[0])))),
    lambda update: update.images[0],
    caption_of=lambda update: f"The adversarial image so far, step {update.step} of {update.steps}",
)
if result is None:
    stop_page()
if isinstance(result, StoppedRun):
    st.image(result.preview, caption=f"Stopped at step {result.step}: not yet rounded and saved", width=360)
    stop_page()

verdict(result)
pictures(result)
top_classes(result, model.class_names)
st.subheader("Grad-CAM before and after")
st.markdown("Where the model finds evidence for the original class and for the adversarial class: each class on the "
            "original image, then on the adversarial one, both on one colour scale.")
gradcam_moves(selection, result)

record = {"parameters": selection.parameters(**result.settings.as_dict()), **result.summary()}
array_buffer = io.BytesIO()
np.save(array_buffer, result.adversarial)
png_column, npy_column, json_column, gif_column, mp4_column = st.columns(5)
png_column.download_button("Adversarial PNG", result.png, "adversarial.png", "image/png", key="attack_png")
npy_column.download_button("Adversarial NPY", array_buffer.getvalue(), "adversarial.npy", "application/octet-stream",
                           key="attack_npy")
json_column.download_button("Parameters JSON", json.dumps(record, indent=2), "adversarial.json", "application/json",
                            key="attack_json")
movie.downloads(gif_column, mp4_column, "adversarial")
