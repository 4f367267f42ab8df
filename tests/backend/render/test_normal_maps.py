import numpy as np
import torch

from latentdreamer.render.normal_maps import decode_normals, encode_normals, mask_from_normal_map


def test_encoding_round_trip_and_background():
    n = torch.nn.functional.normalize(torch.randn(10, 3), dim=1)
    assert torch.allclose(decode_normals(encode_normals(n)), n, atol=1e-6)
    assert torch.equal(encode_normals(torch.zeros(3)), torch.full((3,), 0.5))
    assert torch.allclose(encode_normals(torch.tensor([0.0, 0.0, 1.0])), torch.tensor([0.5, 0.5, 1.0]))


def test_mask_thresholds_and_soft_band():
    lengths = torch.tensor([0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0])
    rgba = encode_normals(lengths[:, None] * torch.tensor([0.0, 0.6, 0.8]))
    rgba = torch.cat([rgba, torch.ones(len(lengths), 1)], dim=1)  # an alpha channel is ignored
    mask = mask_from_normal_map(rgba)
    assert mask.shape == (7, 1)
    assert torch.allclose(mask[:, 0], torch.tensor([0, 0, 0, 0.5, 1, 1, 1.0]), atol=1e-5)


def test_numpy_and_uint8_inputs():
    image = np.full((2, 3, 3), 128, np.uint8)  # grey background
    image[0, 0] = [128, 128, 255]  # facing the camera
    mask = mask_from_normal_map(image)
    assert isinstance(mask, np.ndarray) and mask.shape == (2, 3, 1)
    assert mask[0, 0, 0] == 1 and mask[1:, :].max() == 0
    floats = mask_from_normal_map(image.astype(np.float32) / 255)
    np.testing.assert_allclose(floats, mask, atol=1e-6)
