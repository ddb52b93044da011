"""The video boundary: a build without the chosen encoder is reported with the fix."""

from __future__ import annotations

import av
import pytest

from mlway.core.errors import DependencyMissingError, InputError
from mlway.sim.video import encoder_for


def test_the_bundled_build_has_h264_and_mpeg4() -> None:
    assert encoder_for("h264") in {"libx264", "h264"}
    assert encoder_for("mpeg4") == "mpeg4"


def test_a_missing_encoder_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "codecs_available", {"mpeg4"})  # an FFmpeg build without libx264
    with pytest.raises(DependencyMissingError) as err:
        encoder_for("h264")
    assert "--codec mpeg4" in str(err.value)
    assert "pip install" in str(err.value)


def test_an_unknown_codec_lists_the_choices() -> None:
    with pytest.raises(InputError, match="h264, mpeg4"):
        encoder_for("vp9")
