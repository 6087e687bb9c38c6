import cv2
import numpy as np

# The chelsea crop the model sees (224 x 224) is mostly face: eyes at y 60-110, nose and mouth
# down to the chin at the bottom edge. Outside the box are the forehead, ears and side fur.
FACE_BOX = (20, 40, 215, 224)  # left, top, right, bottom in model-input pixels


def hottest_region(values: np.ndarray) -> tuple[int, int]:
    """Centre (x, y) of the 33 x 33 window with the highest mean value."""
    smoothed = cv2.blur(values.astype(np.float32), (33, 33))
    y, x = np.unravel_index(np.argmax(smoothed), smoothed.shape)
    return int(x), int(y)


def in_face(point) -> bool:
    left, top, right, bottom = FACE_BOX
    return left <= point[0] <= right and top <= point[1] <= bottom


def face_contrast(values: np.ndarray) -> float:
    """Mean map value inside the face box over the mean outside it."""
    left, top, right, bottom = FACE_BOX
    inside = np.zeros(values.shape, bool)
    inside[top:bottom, left:right] = True
    return float(values[inside].mean() / max(values[~inside].mean(), 1e-9))
