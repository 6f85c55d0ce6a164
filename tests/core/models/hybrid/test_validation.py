from functools import partial

import numpy as np
import pytest
import torch

from musicrec_core.data import VALIDATION, InteractionMatrix
from musicrec_core.data import schema as s
from musicrec_core.metrics import ndcg_of_rows
from musicrec_core.models.hybrid import CONTENT_WEIGHTS
from musicrec_core.models.hybrid.fusion import ContentBoost
from musicrec_core.models.hybrid.sampling import flat_history
from musicrec_core.models.hybrid.two_stage import two_stage_top
from musicrec_core.models.hybrid.validation import content_validation_ndcgs, validation_users
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
