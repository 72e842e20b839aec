"""The installed package: version, oneDNN runtime, thread control."""
import re

import cliff


def test_version_is_pep440():
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?(\.dev\d+)?", cliff.__version__)


def test_info_reports_onednn_v3_and_isa():
    info = cliff.info()
    major = int(info["onednn"].split(".")[0])
    assert major == 3, info
    assert info["onednn_isa"] != "unknown"
    assert info["onednn_library"] is None or info["onednn_library"].endswith(".so.3.2") or "libdnnl" in info["onednn_library"]


def test_set_num_threads_roundtrip():
    old = cliff.get_num_threads()
    try:
        cliff.set_num_threads(1)
        assert cliff.get_num_threads() == 1
        cliff.set_num_threads(0)
        assert cliff.get_num_threads() >= 1
    finally:
        cliff.set_num_threads(old)


def test_set_num_threads_rejects_negative():
    import pytest

    with pytest.raises(ValueError, match="n:"):
        cliff.set_num_threads(-3)
