"""Type stub of the C extension cliff._core (thin bindings over csrc/cliff.h)."""
from typing import Any

import numpy as np
import numpy.typing as npt

def set_num_threads(n: int, /) -> None: ...
def get_num_threads() -> int: ...
def dnnl_info() -> dict[str, Any]: ...
def crop(
    image: npt.ArrayLike,
    xyxy: npt.ArrayLike,
    rescale: float = 1.1,
    *,
    bgr: bool = False,
    nhwc: bool = False,
) -> dict[str, npt.NDArray[Any]]: ...
