"""The coupling flow: exact inverse, log-det equal to autograd's, the reference's size and clamp."""

import pytest
import torch
from conftest import preset

from dsn.model.coupling import soft_clamp
from dsn.model.flow import CouplingFlow, block_permutation


def small_flow(n=6, blocks=3, hidden=16):
    torch.manual_seed(0)
    flow = CouplingFlow(n, n_blocks=blocks, hidden=hidden, clamp=3.0).double()
    # push the couplings away from identity so the test has something to check
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.15)
    return flow


def test_flow_inverts_exactly():
    flow = small_flow()
    x = torch.randn(32, 6, dtype=torch.double)
    z, logdet = flow(x)
    assert not torch.allclose(z, x)
    x_back, logdet_inv = flow.inverse(z)
    torch.testing.assert_close(x_back, x, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(logdet_inv, -logdet, atol=1e-10, rtol=1e-10)


def test_logdet_matches_autograd_jacobian():
    flow = small_flow()
    x = torch.randn(5, 6, dtype=torch.double)
    _, logdet = flow(x)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0))[0].squeeze(0), x[i])
        assert abs(torch.linalg.slogdet(jac).logabsdet.item() - logdet[i].item()) < 1e-8


def test_odd_width_inverts():
    flow = small_flow(n=7)
    x = torch.randn(4, 7, dtype=torch.double)
    torch.testing.assert_close(flow.inverse(flow(x)[0])[0], x)


@pytest.mark.parametrize("n_in, expected", [(384, 153_196_544), (768, 172_077_056)])
def test_default_flow_has_the_reference_size(n_in, expected):
    # 8 blocks x 2 subnets x [Linear(n/2, 2048), 2x Linear(2048, 2048), Linear(2048, n)]
    half, h = n_in // 2, 2048
    per_subnet = (half * h + h) + 2 * (h * h + h) + (h * n_in + n_in)
    assert expected == 16 * per_subnet
    head = preset("differsqueezenet")["head"]  # the paper's flow, as conf/ sets it
    flow = CouplingFlow(n_in, n_blocks=head["n_blocks"], hidden=head["hidden"], clamp=head["clamp"])
    assert sum(p.numel() for p in flow.parameters()) == expected


def test_soft_clamp_is_bounded_and_near_identity_at_zero():
    s = torch.linspace(-1e4, 1e4, 1001)
    c = soft_clamp(s, 3.0)
    assert c.abs().max() < 3.0
    assert abs(soft_clamp(torch.tensor(1e-3), 3.0).item() - 0.636e-3) < 1e-8


def test_block_permutations_are_fixed_and_distinct():
    assert torch.equal(block_permutation(384, 2), block_permutation(384, 2))
    assert not torch.equal(block_permutation(384, 2), block_permutation(384, 3))
    torch.manual_seed(123)  # the global RNG does not change them
    assert torch.equal(
        CouplingFlow(8, n_blocks=2, hidden=4, clamp=3.0).transform._transforms[0]._permutation, block_permutation(8, 0)
    )


def test_width_mismatch_is_an_error():
    with pytest.raises(ValueError, match="model.features.n_features x model.features.n_scales"):
        CouplingFlow(384, n_blocks=1, hidden=8, clamp=3.0)(torch.randn(2, 1536))
