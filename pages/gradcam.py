"""Grad-CAM: not built yet (issue #4)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "Grad-CAM",
    "This page shows the regions of the image that drove the score of a chosen class, computed from a late convolutional layer.",
    "Red marks the evidence for the class, blue marks what did not matter.",
)
not_built_yet(4)
