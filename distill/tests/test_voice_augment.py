"""The voice pipeline's feature augmentation (pipelines/voice.py make_augment): SpecAugment-style masks."""
import pytest
import torch

from edgeinfer_distill.pipelines.voice import make_augment


def batch(n=64, f=32, d=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Distinct values everywhere, so a masked cell can only equal the window mean by being masked.
    return {"x": torch.randn((n, f, d), generator=g) + 10.0, "y": torch.zeros(n, dtype=torch.long)}


def run(a, b, seed=1):
    return make_augment(a, 1.0)(b, torch.Generator().manual_seed(seed))["x"]


def test_no_keys_is_the_identity():
    b = batch()
    assert torch.equal(run({}, b), b["x"])


def test_time_masks_set_whole_frames_to_the_window_mean_within_the_widths():
    b = batch()
    x = run({"time_masks": 2, "time_mask_width": 4}, b)
    mean = b["x"].mean(1, keepdim=True).expand_as(b["x"])
    frame_masked = (x == mean).all(2)  # [n, f]: a frame is masked whole or not at all
    changed = (x != b["x"]).any(2)
    assert torch.equal(frame_masked, changed)
    per_row = frame_masked.sum(1)
    assert per_row.max() <= 8 and per_row.sum() > 0  # two spans of at most 4 frames
    assert (x != b["x"]).any(2).sum() == (x != b["x"]).all(2).sum()  # no partial frame


def test_channel_masks_set_whole_channels_to_their_mean_within_the_widths():
    b = batch()
    x = run({"channel_masks": 2, "channel_mask_width": 12}, b)
    mean = b["x"].mean(1, keepdim=True).expand_as(b["x"])
    channel_masked = (x == mean).all(1)  # [n, d]
    changed = (x != b["x"]).any(1)
    assert torch.equal(channel_masked, changed)
    assert channel_masked.sum(1).max() <= 24 and channel_masked.sum() > 0


def test_seeded_and_shapes_kept():
    b = batch()
    a = {"shift": 3, "noise": 0.1, "frame_drop": 0.05, "time_masks": 2, "time_mask_width": 4, "channel_masks": 2, "channel_mask_width": 12}
    x1, x2, x3 = run(a, b, 7), run(a, b, 7), run(a, b, 8)
    assert x1.shape == b["x"].shape
    assert torch.equal(x1, x2) and not torch.equal(x1, x3)


def test_a_width_above_the_axis_is_clamped():
    b = batch(f=4)
    x = run({"time_masks": 1, "time_mask_width": 100}, b)
    assert x.shape == b["x"].shape


@pytest.mark.parametrize("a, message", [
    ({"time_mask": 2}, "unknown key"),
    ({"time_masks": -1}, "augment.time_masks"),
    ({"channel_mask_width": "12"}, "augment.channel_mask_width"),
    ({"noise": True}, "augment.noise"),
    ({"shift": "three"}, "augment.shift"),
])
def test_bad_keys_and_values_are_refused(a, message):
    with pytest.raises(ValueError, match=message):
        make_augment(a, 1.0)
