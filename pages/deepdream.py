"""DeepDream: not built yet (issue #5)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "DeepDream",
    "This page amplifies whatever the chosen layers already see in the image, over several scales.",
    "The patterns that appear show what those layers have learned to look for.",
)
not_built_yet(5)
