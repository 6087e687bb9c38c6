"""Activation explorer: not built yet (issue #3)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "Activation explorer",
    "This page shows the feature maps a chosen layer produces for the image: one small picture per channel, bright where that channel responds.",
    "Early layers respond to edges and colours, later layers to parts of objects.",
)
not_built_yet(3)
