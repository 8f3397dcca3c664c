"""Picture geometry for CLIP: PIL's antialiased resampling as matrices."""

from __future__ import annotations

import numpy as np
import torch

from mmvc.process.transforms import resample_matrix

def test_resample_matrix_matches_torch_antialiased_bicubic():
    rng = np.random.default_rng(6)
    for n_in, n_out in ((256, 224), (100, 224), (1000, 224), (224, 224)):
        x = rng.integers(0, 256, (1, 1, 3, n_in)).astype(np.float32)
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=(3, n_out), mode="bicubic", antialias=True,
                                              align_corners=False).numpy()
        assert np.abs(x @ resample_matrix(n_in, n_out).T - ref).max() < 0.01
