"""The Merkle tree is RFC 6962's: it must agree with the Certificate Transparency reference vectors.

Vectors from the reference implementation's tests (google/certificate-transparency,
merkle_tree_test.cc), as every RFC 6962 implementation checks itself against them.
"""

import hashlib
import random

import pytest

from governance.audit import proofs

LEAVES = [
    bytes.fromhex(data)
    for data in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
AUDIT_PATHS = {  # leaf index in a tree of 8 -> its audit path, bottom up
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_agree_with_the_reference_for_every_size(size):
    assert proofs.merkle_root(proofs.leaf_hash(data) for data in LEAVES[:size]) == ROOTS[size]


@pytest.mark.parametrize("index", sorted(AUDIT_PATHS))
def test_one_leafs_proof_is_its_reference_audit_path(index):
    leaves = [proofs.leaf_hash(data) for data in LEAVES]
    proof = proofs.range_proof(leaves, {index})

    assert sorted(proof) == sorted(AUDIT_PATHS[index])
    assert proofs.root_from_proof(8, {index: leaves[index]}, proof) == ROOTS[8]


def test_any_set_of_leaves_rebuilds_the_root_of_any_tree():
    randomly = random.Random(6962)
    for size in range(1, 70):
        leaves = [proofs.leaf_hash(hashlib.sha256(str(n).encode()).digest()) for n in range(size)]
        included = set(randomly.sample(range(size), randomly.randint(1, size)))
        proof = proofs.range_proof(leaves, included)

        rebuilt = proofs.root_from_proof(size, {index: leaves[index] for index in included}, proof)

        assert rebuilt == proofs.merkle_root(leaves)


def test_a_changed_leaf_or_a_wrong_length_proof_does_not_rebuild_the_root():
    leaves = [proofs.leaf_hash(bytes([n])) for n in range(11)]
    proof = proofs.range_proof(leaves, {3, 4})
    changed = {3: leaves[3], 4: proofs.leaf_hash(b"forged")}

    assert proofs.root_from_proof(11, changed, proof) != proofs.merkle_root(leaves)
    with pytest.raises(proofs.ProofError, match="too short"):
        proofs.root_from_proof(11, {3: leaves[3], 4: leaves[4]}, proof[:-1])
    with pytest.raises(proofs.ProofError, match="more hashes"):
        proofs.root_from_proof(11, {3: leaves[3], 4: leaves[4]}, [*proof, proof[0]])
    with pytest.raises(proofs.ProofError, match="outside"):
        proofs.root_from_proof(4, {3: leaves[3], 4: leaves[4]}, proof)


def powers_of_two_and_their_neighbours(largest: int) -> list[int]:
    sizes = {0, 1, 2, 3}
    power = 2
    while power <= largest:
        sizes |= {power - 1, power, power + 1}
        power *= 2
    return sorted(sizes)


@pytest.mark.parametrize("size", powers_of_two_and_their_neighbours(1024) + [37, 100, 1000, 1500])
def test_the_streamed_proof_is_the_proof_for_every_size_and_choice_of_leaves(size):
    randomly = random.Random(size)
    leaves = [proofs.leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    choices = [set(), set(range(size)), {0}, {size - 1}, set(range(size // 3, size // 2))]
    choices += [set(randomly.sample(range(size), randomly.randint(0, size))) for _ in range(3)]
    for included in choices:
        streamed = proofs.range_proof_streamed(size, iter(leaves), iter(sorted(included)))

        assert streamed == proofs.range_proof(leaves, included)


def test_the_streamed_proof_refuses_a_tree_of_another_size_than_its_leaves():
    leaves = [proofs.leaf_hash(bytes([n])) for n in range(5)]

    with pytest.raises(proofs.ProofError, match="fewer leaves"):
        proofs.range_proof_streamed(6, iter(leaves), iter([2]))
    with pytest.raises(proofs.ProofError, match="more leaves"):
        proofs.range_proof_streamed(4, iter(leaves), iter([2]))
