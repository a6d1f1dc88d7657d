"""The planted world: deterministic, and its truth is true."""

import numpy as np
import pytest

from kit.errors import ConfigError
from kit.planted import PlantedConfig, make_pairs, make_world


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = make_world(n_samples=300, seed=4), make_world(n_samples=300, seed=4), make_world(n_samples=300, seed=5)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    assert not np.array_equal(a.X, c.X)


def test_embeddings_are_codes_times_atoms_plus_noise(world):
    assert np.allclose(world.X, world.codes @ world.atoms + world.noise, atol=1e-5)
    assert np.allclose(np.linalg.norm(world.atoms, axis=1), 1.0, atol=1e-5)


def test_true_codes_reproduce_the_labels(world):
    active = world.codes > 0
    for c, atoms in enumerate(world.concept_atoms):
        assert np.array_equal(active[:, atoms].any(axis=1), world.Y[:, c]), world.concepts.names[c]
    assert (world.atom_concept()[world.nuisance_atoms] == -1).all()


def test_families_are_exclusive_and_exhaustive(world):
    for fam, members in world.concepts.families().items():
        if world.kinds[members[0]] == "family":
            assert (world.Y[:, members].sum(axis=1) == 1).all(), fam


def test_split_concepts_use_one_part_at_a_time(world):
    for c, kind in enumerate(world.kinds):
        if kind == "split":
            parts = (world.codes[:, world.concept_atoms[c]] > 0).sum(axis=1)
            assert set(np.unique(parts)) <= {0, 1}
            assert (parts[world.Y[:, c]] == 1).all()


def test_cooccurring_concepts_cooccur(world):
    names = world.concepts.names
    a, b = names.index("co0_a"), names.index("co0_b")
    corr = np.corrcoef(world.Y[:, a], world.Y[:, b])[0, 1]
    assert corr > 0.5


@pytest.mark.parametrize("kind", ["swap", "removal"])
def test_pairs_flip_exactly_one_concept(world, kind):
    p = make_pairs(world, n_pairs=200, kind=kind, seed=3)
    diff = p.labels_orig ^ p.labels_edit
    expected = 2 if kind == "swap" else 1
    assert (diff.sum(axis=1) == expected).all()
    assert p.labels_orig[np.arange(200), p.old].all() and not p.labels_edit[np.arange(200), p.old].any()
    if kind == "swap":
        assert all(world.concepts.groups[o] == world.concepts.groups[n] for o, n in zip(p.old, p.new))
    else:
        assert (p.new == -1).all()
    # the edit moves the embedding only along the atoms of the flipped concepts
    moved = p.X_edit - p.X_orig
    changed_atoms = np.abs(p.codes_edit - p.codes_orig) > 0
    for i in range(20):
        atoms = np.flatnonzero(changed_atoms[i])
        assert set(world.atom_concept()[atoms]) <= {p.old[i], p.new[i]}
        assert np.allclose(moved[i], (p.codes_edit[i] - p.codes_orig[i]) @ world.atoms, atol=1e-5)


def test_pairs_are_deterministic(world):
    a, b = make_pairs(world, 50, seed=9), make_pairs(world, 50, seed=9)
    assert np.array_equal(a.X_edit, b.X_edit) and np.array_equal(a.old, b.old)


@pytest.mark.parametrize("bad", [dict(n_samples=0), dict(p_independent=1.5), dict(magnitude=(2.0, 1.0)),
                                 dict(noise=-1.0), dict(family_size=1)])
def test_bad_config_is_named(bad):
    with pytest.raises(ConfigError, match=list(bad)[0]):
        PlantedConfig(**bad)


def test_world_more_atoms_than_dimensions_still_unit_norm():
    w = make_world(n_samples=50, dim=8, seed=0)
    assert w.atoms.shape[0] > 8
    assert np.allclose(np.linalg.norm(w.atoms, axis=1), 1.0, atol=1e-5)
