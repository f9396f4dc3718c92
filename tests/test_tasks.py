import dataclasses
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from neurosim.errors import UserError
from neurosim.tasks import TASKS
from neurosim.tasks.fetch import fetch
from neurosim.tasks.idx import load_idx_task, read_idx
from neurosim.tasks.mnist_subset import stratified_split
from neurosim.tasks.sources import FILES, SOURCES


def test_digits_split_is_fixed_stratified_and_scaled():
    task = TASKS.get("digits")()
    assert task.x_train.shape == (1442, 1, 8, 8) and task.x_test.shape == (355, 1, 8, 8)
    assert float(task.x_train.max()) == 1.0 and float(task.x_train.min()) == 0.0
    test_counts = torch.bincount(task.y_test, minlength=10)
    assert int(test_counts.min()) >= 34 and int(test_counts.max()) <= 36
    again = TASKS.get("digits")()
    assert torch.equal(task.x_test, again.x_test) and torch.equal(task.y_train, again.y_train)


def test_train_subsets_are_nested_and_balanced():
    task = TASKS.get("digits")()
    small, large = task.train_subset(10, seed=3), task.train_subset(100, seed=3)
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.bincount(task.y_train[small]).tolist() == [10] * 10
    assert not torch.equal(small, task.train_subset(10, seed=4))
    assert len(task.train_subset(None)) == len(task.y_train)
    with pytest.raises(UserError, match="smallest class"):
        task.train_subset(10_000)


def test_xor_and_parity_truth_tables():
    xor = TASKS.get("xor")()
    assert xor.x_train.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert xor.y_train.tolist() == [0, 1, 1, 0]
    parity = TASKS.get("parity")(n_bits=4)
    assert parity.x_train.shape == (16, 4)
    assert torch.equal(parity.y_train, parity.x_train.sum(1).long() % 2)


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _fake_idx_dir(directory: Path, compress: bool) -> None:
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(directory / FILES[0], rng.integers(0, 256, (20, 28, 28)), compress)
    _write_idx(directory / FILES[1], np.arange(20) % 10, compress)
    _write_idx(directory / FILES[2], rng.integers(0, 256, (10, 28, 28)), compress)
    _write_idx(directory / FILES[3], np.arange(10) % 10, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_task_reads_raw_and_gzipped_files(tmp_path, compress):
    _fake_idx_dir(tmp_path / "fashion_mnist", compress)
    task = load_idx_task("fashion_mnist", tmp_path / "fashion_mnist")
    assert task.x_train.shape == (20, 1, 28, 28) and task.y_test.tolist() == list(range(10))
    assert 0.0 <= float(task.x_train.min()) and float(task.x_train.max()) <= 1.0
    raw = read_idx(next((tmp_path / "fashion_mnist").glob("train-images*")))
    assert torch.allclose(task.x_train[:, 0], torch.from_numpy(raw / 255.0).float())


def test_truncated_idx_file_is_reported(tmp_path):
    _fake_idx_dir(tmp_path / "d", compress=False)
    path = tmp_path / "d" / FILES[0]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(UserError, match="truncated"):
        read_idx(path)


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    with pytest.raises(UserError, match="neurosim data fetch mnist"):
        TASKS.get("mnist")()


def test_fetch_verifies_checksums_and_leaves_nothing_on_mismatch(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _fake_idx_dir(mirror, compress=True)
    md5 = {stem: hashlib.md5((mirror / f"{stem}.gz").read_bytes()).hexdigest() for stem in FILES}
    source = SOURCES["mnist"]
    monkeypatch.setitem(SOURCES, "mnist", type(source)(**{**source.__dict__, "md5": md5}))
    target = fetch("mnist", root=tmp_path / "data", base_url=mirror.as_uri())
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{s}.gz" for s in FILES)
    assert TASKS.get("mnist")(data_dir=str(target)).x_train.shape == (20, 1, 28, 28)

    bad = dict(md5, **{FILES[0]: "0" * 32})
    monkeypatch.setitem(SOURCES, "mnist", type(source)(**{**source.__dict__, "md5": bad}))
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch("mnist", root=tmp_path / "fresh", base_url=mirror.as_uri())
    assert not (tmp_path / "fresh").exists(), "a failed download leaves no (empty) folder behind"


def test_fetch_offline_leaves_nothing_behind(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(UserError, match="could not download"):
        fetch("mnist", root=tmp_path / "kept" / "new" / "data", base_url=(tmp_path / "offline").as_uri())
    assert list((tmp_path / "kept").iterdir()) == [], "folders it created are removed, others kept"


@pytest.mark.data
def test_fashion_mnist_official_split_when_installed():
    try:
        task = TASKS.get("fashion_mnist")()
    except UserError:
        pytest.skip("Fashion-MNIST not installed")
    assert task.x_train.shape == (60000, 1, 28, 28) and task.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(task.y_test).tolist() == [1000] * 10


def test_idx_files_that_are_not_the_official_ones_are_described_as_such(tmp_path):
    _fake_idx_dir(tmp_path / "mnist", compress=True)
    task = load_idx_task("mnist", tmp_path / "mnist")
    assert task.description.startswith("mnist: 20 training and 10 test images")
    assert "without the published .gz MD5s" in task.description and "official" not in task.description
    content = gzip.decompress((tmp_path / "mnist" / f"{FILES[0]}.gz").read_bytes())
    assert f"{FILES[0]} {hashlib.md5(content).hexdigest()}" in task.description


def test_stratified_split_of_the_10k_subset_is_disjoint_complete_and_fixed():
    labels = np.repeat(np.arange(10), [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    train, validation, test = stratified_split(labels, 10)
    assert (len(train), len(validation), len(test)) == (6995, 997, 2008)
    everything = np.concatenate([train, validation, test])
    assert len(np.unique(everything)) == 10_000 == len(everything)
    for part, fraction in ((train, 0.7), (validation, 0.1)):
        counts = np.bincount(labels[part], minlength=10)
        expected = (np.bincount(labels) * fraction).astype(int)
        assert (counts == expected).all()
    again = stratified_split(labels, 10)
    assert all((a == b).all() for a, b in zip(again, (train, validation, test), strict=True))


def test_a_10k_subset_with_other_checksums_is_refused(tmp_path):
    folder = tmp_path / "mnist-10k"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte", np.zeros((10, 28, 28)), compress=True)
    _write_idx(folder / "train-labels-idx1-ubyte", np.arange(10), compress=True)
    with pytest.raises(UserError, match="not the 10k subset"):
        TASKS.get("mnist_10k")(data_dir=str(folder))


@pytest.mark.data
def test_mnist_10k_subset_when_present():
    try:
        task = TASKS.get("mnist_10k")()
    except UserError:
        pytest.skip("the MNIST 10k subset is not present")
    assert task.x_train.shape == (6995, 1, 28, 28) and len(task.y_val) == 997 and len(task.y_test) == 2008
    assert torch.bincount(task.y_val).tolist() == [100, 112, 99, 103, 98, 86, 101, 107, 94, 97]
    assert float(task.x_train.max()) == 1.0 and float(task.x_train.min()) == 0.0
    assert "not the MNIST test set" in task.description and "6,995 train" in task.description


def test_validation_task_holds_out_a_stratified_sixth_of_the_training_split():
    task = TASKS.get("digits")()
    validation = task.validation_task()
    assert len(validation.y_train) + len(validation.y_test) == len(task.y_train) == 1442
    expected = (torch.bincount(task.y_train, minlength=10).float() / 6).floor().long()
    assert torch.equal(torch.bincount(validation.y_test, minlength=10), expected)
    # The two parts partition the training split: every training image is in exactly one of them.
    pooled = torch.cat([validation.x_train, validation.x_test]).flatten(1)
    assert torch.equal(torch.sort(pooled.sum(1)).values, torch.sort(task.x_train.flatten(1).sum(1)).values)
    assert "EVALUATED ON VALIDATION: trained on 1,205 images, tested on 237" in validation.description
    again = task.validation_task()
    assert torch.equal(again.x_test, validation.x_test), "the same split every time"


def test_validation_task_uses_a_tasks_own_validation_split():
    task = TASKS.get("digits")()
    with_own = dataclasses.replace(task, x_val=task.x_test[:10], y_val=task.y_test[:10])
    validation = with_own.validation_task()
    assert torch.equal(validation.x_test, task.x_test[:10]) and torch.equal(validation.x_train, task.x_train)
    assert "tested on 10 of its own validation split" in validation.description
