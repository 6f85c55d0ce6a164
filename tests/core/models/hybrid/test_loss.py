import math

import pytest
import torch

from musicrec_core.models.hybrid import EnhancedListNetLoss
from musicrec_core.models.hybrid.loss import ils_penalty, listnet_loss, similarity_matrix


def _softmax(values: list[float]) -> list[float]:
    exps = [math.exp(v) for v in values]
    return [e / sum(exps) for e in exps]


def test_listnet_equals_the_hand_computed_cross_entropy_on_three_items():
    pred = torch.tensor([[2.0, 1.0, 0.0]])
    true = torch.tensor([[math.log(3.0), math.log(2.0), 0.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    p_true, p_pred = _softmax([math.log(3.0), math.log(2.0), 0.0]), _softmax([2.0, 1.0, 0.0])
    expected = -sum(t * math.log(p) for t, p in zip(p_true, p_pred, strict=True))
    assert listnet_loss(pred, true, mask).item() == pytest.approx(expected, rel=1e-5)


def test_negatives_get_no_target_probability_and_padding_is_ignored():
    pred = torch.tensor([[2.0, 1.0, 0.0, 9.0]])
    true = torch.tensor([[1.0, 0.0, 0.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    positive = torch.tensor([[True, False, False, False]])
    expected = -math.log(_softmax([2.0, 1.0, 0.0])[0])
    assert listnet_loss(pred, true, mask, positive).item() == pytest.approx(expected, rel=1e-5)


def test_temperature_sharpens_the_distributions():
    pred = torch.tensor([[2.0, 1.0, 0.0]])
    true = torch.tensor([[2.0, 1.0, 0.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    # With matching scores the loss is the entropy of the targets: lower when sharper.
    sharp = listnet_loss(pred, true, mask, temperature=0.5)
    flat = listnet_loss(pred, true, mask, temperature=2.0)
    assert sharp < flat


def test_ils_is_zero_for_orthogonal_items_and_larger_for_identical_ones():
    pred = torch.zeros(1, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    orthogonal = torch.eye(3).unsqueeze(0)
    identical = torch.ones(1, 3, 3)
    assert ils_penalty(pred, mask, similarity_matrix([orthogonal])).item() == pytest.approx(0.0)
    same = ils_penalty(pred, mask, similarity_matrix([identical])).item()
    assert same == pytest.approx(1 - 3 * (1 / 3) ** 2, rel=1e-5)


def test_ils_ignores_padding():
    pred = torch.zeros(1, 3)
    features = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    mask = torch.tensor([[True, True, False]])
    assert ils_penalty(pred, mask, similarity_matrix([features])).item() == pytest.approx(0.0)


def test_loss_parts_and_gradients_flow():
    torch.manual_seed(0)
    pred = torch.randn(2, 4, requires_grad=True)
    true = torch.rand(2, 4)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    features = [torch.rand(2, 4, 3), torch.rand(2, 4, 5)]
    parts = EnhancedListNetLoss(ils_weight=0.5, temperature=2.0)(
        pred, true, mask, features=features
    )
    assert parts.total.item() == pytest.approx((parts.listnet + 0.5 * parts.ils).item())
    parts.total.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert pred.grad[0, 3] == 0  # padding gets no gradient


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        EnhancedListNetLoss(temperature=0.0)


def test_ils_applies_only_to_the_lists_asked_to_diversify():
    torch.manual_seed(0)
    pred = torch.randn(2, 4)
    target = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]])
    mask = torch.ones(2, 4, dtype=torch.bool)
    same = [torch.ones(2, 4, 3)]  # every item like every other: ILS is high in both lists
    loss = EnhancedListNetLoss(ils_weight=1.0)
    both = loss(pred, target, mask, features=same)
    first = loss(pred, target, mask, features=same, diversify=torch.tensor([True, False]))
    alone = loss(pred[:1], target[:1], mask[:1], features=[same[0][:1]])
    assert torch.allclose(first.ils, alone.ils) and not torch.allclose(first.ils, both.ils)
    none = loss(pred, target, mask, features=same, diversify=torch.tensor([False, False]))
    assert none.ils == 0 and torch.allclose(none.listnet, both.listnet)
