"""Filter gallery: not built yet (issue #3)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "Filter gallery",
    "This page shows, for each chosen filter, a synthetic image that excites it as much as possible.",
    "Repeating textures mean the filter detects that pattern wherever it appears.",
)
not_built_yet(3)
