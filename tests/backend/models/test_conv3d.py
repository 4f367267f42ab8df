"""SameConv3d computes nn.Conv3d's convolution, forward and backward, by shifted products."""

import pytest
import torch
import torch.nn.functional as F

from latentdreamer.models.conv3d import SameConv3d, shifted_products


@pytest.mark.parametrize("shape", [(3, 5, 5, 5), (4, 6, 3, 7), (2, 1, 1, 1)])
def test_shifted_products_match_conv3d_on_any_box(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    weight = torch.randn(5, shape[0], 3, 3, 3, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    expected = F.conv3d(x[None], weight, bias, padding=1)[0]
    torch.testing.assert_close(shifted_products(x, weight, bias), expected, atol=1e-10, rtol=0)


def test_fixed_weights_one_sample_value_and_input_gradient():
    torch.manual_seed(1)
    conv = SameConv3d(6, 4).double().requires_grad_(False)
    x = torch.randn(1, 6, 7, 7, 7, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(1, 4, 7, 7, 7, dtype=torch.float64)
    got = conv(x)
    assert got.grad_fn is not None and "Shifted" in type(got.grad_fn).__name__, "the one-sample path ran"
    expected = F.conv3d(x, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)
    (g_got,) = torch.autograd.grad(got, x, grad_out)
    (g_expected,) = torch.autograd.grad(expected, x, grad_out)
    torch.testing.assert_close(g_got, g_expected, atol=1e-10, rtol=0)
    assert torch.autograd.gradcheck(lambda v: conv(v), (x[:, :, :3, :3, :3].detach().clone().requires_grad_(),))


def test_batches_and_training_keep_torchs_kernel_and_its_weight_gradient():
    torch.manual_seed(2)
    conv = SameConv3d(3, 2)
    x = torch.randn(1, 3, 4, 4, 4)
    out = conv(x)  # weights train: torch's kernel, which gives the weight gradient
    assert "Shifted" not in type(out.grad_fn).__name__
    out.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    conv.requires_grad_(False)
    batch = torch.randn(2, 3, 4, 4, 4, requires_grad=True)
    assert "Shifted" not in type(conv(batch).grad_fn).__name__


def test_saved_weights_load_into_the_same_keys():
    plain = torch.nn.Conv3d(3, 2, 3, padding=1)
    same = SameConv3d(3, 2)
    same.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 5, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(same(x), plain(x), atol=1e-5, rtol=0)
