import numpy as np
import pytest

from latentdreamer.geometry.random_shapes import random_sdf
from latentdreamer.geometry.thin_shapes import thin_shape
from latentdreamer.geometry.training_shapes import training_shape


def test_blocks_is_the_shipped_generator_seed_for_seed():
    for seed in (0, 1, 7):
        shape = training_shape("blocks", seed, 32)
        np.testing.assert_array_equal(shape.sdf, random_sdf(seed, 32))
        assert shape.distance is None


def test_mixed_keeps_blocks_on_even_seeds_and_thin_on_odd_ones():
    even, odd = training_shape("mixed", 4, 32), training_shape("mixed", 5, 32)
    np.testing.assert_array_equal(even.sdf, random_sdf(4, 32))
    assert even.distance is None
    thin = thin_shape(5, 32)
    np.testing.assert_array_equal(odd.sdf, thin.sdf)
    pts = np.random.default_rng(0).uniform(-0.5, 0.5, (100, 3))
    np.testing.assert_array_equal(odd.distance(pts), thin.distance(pts))


def test_thin_has_distances_and_unknown_names_fail():
    assert training_shape("thin", 2, 32).distance is not None
    with pytest.raises(ValueError, match="distribution"):
        training_shape("teapots", 0, 32)
