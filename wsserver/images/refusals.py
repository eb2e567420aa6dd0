"""Why an image is refused: the Invalid errors (naming `data`), and the pixel budget both checks apply.

Shared by the structure check (layout) and Pillow's header parse (reencoding),
so that both refuse the same image with the same message.
"""
from ..errors import Invalid
from .types import MAX_FRAMES


def _not_an_image(image_type):
    message = f"The data is not a valid {image_type.content_type} image."
    return Invalid(message, {"data": [message]})


def _too_big(width, height, max_side):
    return Invalid(
        f"The image is {width}x{height} pixels; at most {max_side}x{max_side} are allowed.",
        {"data": [f"At most {max_side} pixels wide and {max_side} pixels high."]},
    )


def _too_many_pixels(max_side):
    return Invalid(
        "The animation is too large.",
        {"data": [f"At most {MAX_FRAMES} frames and {max_side * max_side} pixels over all frames."]},
    )


def _frame_outside(image_type):
    message = f"The data is not a valid {image_type.content_type} image: a frame lies outside the canvas."
    return Invalid(message, {"data": [message]})


def _check_budget(width, height, frames, max_side):
    if not (1 <= width <= max_side and 1 <= height <= max_side):
        raise _too_big(width, height, max_side)
    if frames > MAX_FRAMES or frames * width * height > max_side * max_side:
        raise _too_many_pixels(max_side)
