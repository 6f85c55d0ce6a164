"""The models' Adam: fused on the CPU, with the update of torch's default Adam."""

import torch

from musicrec_core.models.adam import adam


def _trained(fused_adam: bool) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    weights = torch.nn.Parameter(torch.randn(300, 8, generator=generator))
    target = torch.randn(300, 8, generator=generator)
    cpu = torch.device("cpu")
    if fused_adam:
        optimiser = adam([weights], cpu, 0.05, weight_decay=1e-3)
    else:
        optimiser = torch.optim.Adam([weights], lr=0.05, weight_decay=1e-3)
    for _ in range(20):
        optimiser.zero_grad()
        ((weights - target) ** 2).sum().backward()
        optimiser.step()
    return weights.detach()


def test_fused_on_the_cpu():
    optimiser = adam([torch.nn.Parameter(torch.zeros(2))], torch.device("cpu"), 0.1)
    assert optimiser.defaults["fused"] is True


def test_the_same_updates_as_torch_s_default_adam():
    torch.testing.assert_close(_trained(True), _trained(False), rtol=1e-5, atol=1e-6)
