"""Style transfer: not built yet (issue #5)."""

from pages.common import not_built_yet, page_intro

page_intro(
    "Style transfer",
    "This page repaints the image in the style of another picture, keeping its content from one layer and the style statistics from others.",
    "Stronger style settings trade recognisable content for texture.",
)
not_built_yet(5)
