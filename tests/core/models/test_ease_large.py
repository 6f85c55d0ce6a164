"""EASE's dense solve at a size where OpenBLAS's threaded Cholesky used to crash the process."""

import subprocess
import sys
import textwrap

SOLVE = textwrap.dedent(
    """
    import numpy as np
    from musicrec_core.models.ease import _ease_weights

    n = 16_384
    gram = np.zeros((n, n))
    gram[np.diag_indices(n)] = 2.0
    gram[0, 1] = gram[1, 0] = 1.0
    weights = _ease_weights(gram)
    assert weights.shape == (n, n) and weights[0, 0] == 0.0
    # B = -P / diag(P): for the coupled pair P = [[2, -1], [-1, 2]] / 3, so B[1, 0] = 0.5
    assert abs(weights[1, 0] - 0.5) < 1e-6 and weights[2, 3] == 0.0
    print("solved")
    """
)


def test_ease_solves_sixteen_thousand_tracks_without_a_native_crash():
    # In a child process: a segmentation fault there fails this test instead of the run.
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", SOLVE],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "solved" in done.stdout
