import os
import sys

import pytest
import torch

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def voice_features(tmp_path):
    """Random voice features in the Node side's format (until its real files exist): {split}.features.npy float32
    [N, F, 96], {split}.labels.npy int64 [N], labels.json (index 0 "none"), meta.json {"frames": F}. Each class gets
    its own mean pattern so a model can learn something."""
    from edgeinfer_distill.pipelines.voice import write_random_features

    folder = tmp_path / "features"
    write_random_features(str(folder), frames=16, sizes={"labelled": 64, "transfer": 160, "val": 48, "test": 64}, classes=6, seed=0)
    return str(folder)
