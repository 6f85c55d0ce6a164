from functools import partial

import numpy as np
import pytest
import torch

from musicrec_core.data import VALIDATION, InteractionMatrix
from musicrec_core.data import schema as s
from musicrec_core.metrics import ndcg_of_rows
from musicrec_core.models.hybrid import CONTENT_WEIGHTS, ITEM_ITEM_WEIGHTS
from musicrec_core.models.hybrid.fusion import ContentBoost
from musicrec_core.models.hybrid.sampling import flat_history, played_mask
from musicrec_core.models.hybrid.two_stage import two_stage, two_stage_top
from musicrec_core.models.hybrid.validation import (
    content_validation_ndcgs,
    validation_ndcg,
    validation_ndcgs,
    validation_users,
)
from tests.core.fused_hybrid import fused_tiny_hybrid


@pytest.fixture(scope="module")
def fused():
    model, data, _ = fused_tiny_hybrid()
    matrix = model.data.matrix
    rows = data.split[data.split[s.SPLIT] == VALIDATION]
    validation = InteractionMatrix.build(rows, matrix.user_ids, matrix.track_ids).matrix
    return model, matrix.matrix, validation


def _served_content_ndcg(model, plays, validation, weight: float) -> float:
    """Validation NDCG@10 of the content-only ranking as serving boosts new tracks."""
    net, device = model.model, model.device
    users = validation_users(validation, model.config)
    block = plays[users]
    index, offsets, play_weight = flat_history(block, device)
    table = net.item_vectors()
    vectors = net.user_vectors_flat(torch.as_tensor(users), index, offsets, play_weight, table)
    coo = block.tocoo()
    exclude = (torch.as_tensor(coo.row.astype(np.int64)), torch.as_tensor(coo.col.astype(np.int64)))
    every = torch.arange(net.n_items)
    similarity = partial(model.content.scores, block, every.numpy(), device)
    boost = ContentBoost(every, similarity, weight)
    candidates = net.item_vectors(id_dropout=1.0)
    top = two_stage_top(net, vectors, candidates, exclude, 0, 10, None, boost)[0]
    return float(np.mean(ndcg_of_rows(top.numpy(), validation[users])))


def test_the_one_pass_content_sweep_scores_each_weight_as_serving_ranks_new_tracks(fused):
    model, plays, validation = fused
    swept = content_validation_ndcgs(
        model.model, plays, validation, model.config, model.device, model.content, CONTENT_WEIGHTS
    )
    assert list(swept) == list(CONTENT_WEIGHTS)
    for weight in CONTENT_WEIGHTS:
        assert swept[weight] == pytest.approx(
            _served_content_ndcg(model, plays, validation, weight)
        )
    assert len(set(swept.values())) > 1  # the weights rank differently


def _full_scores_ndcg(model, plays, validation, weight: float, retrieval_weight: float) -> float:
    """Validation NDCG@10 of the top of ``two_stage``'s full-catalogue scores."""
    net, device = model.model, model.device
    users = validation_users(validation, model.config)
    block = plays[users]
    index, offsets, play_weight = flat_history(block, device)
    table = net.item_vectors()
    vectors = net.user_vectors_flat(torch.as_tensor(users), index, offsets, play_weight, table)
    evidence = model.item_item.evidence(index, offsets, weight, retrieval_weight)
    played = played_mask(block, device)
    scores = two_stage(net, vectors, table, played, model.config.n_candidates, evidence)
    top = scores.masked_fill(played, float("-inf")).topk(10, dim=1).indices
    return float(np.mean(ndcg_of_rows(top.numpy(), validation[users])))


@pytest.mark.parametrize("retrieval_weight", [0.0, 1.0])
def test_one_pass_over_the_head_weights_scores_each_as_the_full_ranking(fused, retrieval_weight):
    model, plays, validation = fused
    trained = (model.model, plays, validation, model.config, model.device, model.item_item)
    swept = validation_ndcgs(*trained, ITEM_ITEM_WEIGHTS, retrieval_weight)
    assert list(swept) == list(ITEM_ITEM_WEIGHTS)
    for weight in ITEM_ITEM_WEIGHTS:
        full = _full_scores_ndcg(model, plays, validation, weight, retrieval_weight)
        assert swept[weight] == pytest.approx(full)
        assert validation_ndcg(*trained, weight, retrieval_weight) == pytest.approx(full)
    assert len(set(swept.values())) > 1  # the weights rank differently
