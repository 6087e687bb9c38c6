"""Occlusion & saliency: not built yet (issue #4)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "Occlusion & saliency",
    "This page shows which pixels the prediction depends on, by hiding patches of the image and by following the model's gradients.",
    "Hot areas are the evidence the model used; a faithfulness score says how much to trust each map.",
)
not_built_yet(4)
