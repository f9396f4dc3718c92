"""Thread-count choice: precedence of request, environment, affinity and cgroup quota (issue #20)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

from neurosim import threads
from neurosim.errors import UserError
from neurosim.results.provenance import provenance
from neurosim.threads import (
    ThreadChoice,
    apply_threads,
    available_cores,
    choose_threads,
    configure_threads,
    current_threads,
)


@pytest.fixture
def sixteen_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the affinity mask 16 CPUs, whatever machine runs the tests."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)


@pytest.fixture(autouse=True)
def physical_cores_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's physical cores do not cap the count unless a test says so."""
    monkeypatch.setattr(threads, "_physical_cores", lambda: None)


def test_logical_cpus_beyond_the_physical_cores_are_not_used(tmp_path, monkeypatch, sixteen_cpus):
    """With two logical CPUs per core, 16 in the mask are 8 cores (torch's own default)."""
    monkeypatch.setattr(threads, "_physical_cores", lambda: 8)
    assert available_cores(tmp_path) == (8, "affinity 16, 8 physical cores")
    assert available_cores(cgroup_v2(tmp_path, "400000 100000")) == (
        4,
        "affinity 16, 8 physical cores, cgroup quota 4.0 -> 4",
    )
    monkeypatch.setattr(threads, "_physical_cores", lambda: 32)  # a mask smaller than the machine
    assert available_cores(tmp_path / "none")[0] == 16


@pytest.fixture
def restore_torch(monkeypatch: pytest.MonkeyPatch):
    """Undo thread changes; inter-op setting is recorded, never done (it is once per process)."""
    original = torch.get_num_threads()
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_interop_threads", calls.append)
    monkeypatch.setattr(threads, "_applied", None)
    yield calls
    torch.set_num_threads(original)


def cgroup_v2(root: Path, text: str) -> Path:
    (root / "cpu.max").write_text(text + "\n")
    return root


def cgroup_v1(root: Path, quota: str, period: str, controller: str = "cpu") -> Path:
    (root / controller).mkdir()
    (root / controller / "cpu.cfs_quota_us").write_text(quota + "\n")
    (root / controller / "cpu.cfs_period_us").write_text(period + "\n")
    return root


def test_cgroup_v2_quota_caps_affinity(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v2(tmp_path, "200000 100000")) == (2, "affinity 16, cgroup quota 2.0 -> 2")


def test_cgroup_v2_max_means_no_quota(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v2(tmp_path, "max 100000")) == (16, "affinity 16")


def test_no_cgroup_files_means_affinity(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(tmp_path) == (16, "affinity 16")


def test_fractional_quota_rounds_up(tmp_path: Path, sixteen_cpus: None) -> None:
    count, source = available_cores(cgroup_v2(tmp_path, "150000 100000"))
    assert count == 2
    assert "cgroup quota 1.5 -> 2" in source


def test_tiny_quota_gives_at_least_one(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v2(tmp_path, "10000 100000"))[0] == 1


def test_quota_above_affinity_keeps_affinity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert available_cores(cgroup_v2(tmp_path, "800000 100000"))[0] == 3


def test_cgroup_v1_quota(tmp_path: Path, sixteen_cpus: None) -> None:
    count, source = available_cores(cgroup_v1(tmp_path, "300000", "100000"))
    assert count == 3
    assert source == "affinity 16, cgroup quota 3.0 -> 3"


def test_cgroup_v1_combined_controller_directory(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v1(tmp_path, "400000", "100000", controller="cpu,cpuacct"))[0] == 4


def test_cgroup_v1_minus_one_means_no_quota(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v1(tmp_path, "-1", "100000")) == (16, "affinity 16")


def test_malformed_cpu_max_is_ignored(tmp_path: Path, sixteen_cpus: None) -> None:
    assert available_cores(cgroup_v2(tmp_path, "garbage")) == (16, "affinity 16")


def test_cpu_count_without_affinity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert available_cores(cgroup_v2(tmp_path, "200000 100000")) == (2, "cpu_count 8, cgroup quota 2.0 -> 2")


def test_choice_from_cores_when_environment_is_silent(tmp_path: Path, sixteen_cpus: None) -> None:
    choice = choose_threads(environ={}, cgroup_root=cgroup_v2(tmp_path, "200000 100000"))
    assert choice == ThreadChoice(intra_op=2, inter_op=2, source="affinity 16, cgroup quota 2.0 -> 2")


def test_inter_op_is_capped(tmp_path: Path, sixteen_cpus: None) -> None:
    choice = choose_threads(environ={}, cgroup_root=tmp_path)
    assert (choice.intra_op, choice.inter_op) == (16, threads.MAX_INTEROP_THREADS)
    assert threads.MAX_INTEROP_THREADS < 16


def test_omp_num_threads_wins_over_quota(tmp_path: Path, sixteen_cpus: None) -> None:
    root = cgroup_v2(tmp_path, "200000 100000")
    choice = choose_threads(environ={"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "5"}, cgroup_root=root)
    assert choice == ThreadChoice(intra_op=3, inter_op=3, source="OMP_NUM_THREADS=3")


def test_mkl_num_threads_used_when_omp_unset(tmp_path: Path, sixteen_cpus: None) -> None:
    choice = choose_threads(environ={"MKL_NUM_THREADS": "5"}, cgroup_root=tmp_path)
    assert (choice.intra_op, choice.source) == (5, "MKL_NUM_THREADS=5")


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5"])
def test_invalid_omp_num_threads_is_ignored_with_warning(
    value: str, tmp_path: Path, sixteen_cpus: None, caplog: pytest.LogCaptureFixture
) -> None:
    root = cgroup_v2(tmp_path, "200000 100000")
    with caplog.at_level(logging.WARNING, logger="neurosim.threads"):
        choice = choose_threads(environ={"OMP_NUM_THREADS": value}, cgroup_root=root)
    assert (choice.intra_op, choice.source) == (2, "affinity 16, cgroup quota 2.0 -> 2")
    assert any("OMP_NUM_THREADS" in record.getMessage() for record in caplog.records)


def test_requested_wins_over_everything(tmp_path: Path, sixteen_cpus: None) -> None:
    root = cgroup_v2(tmp_path, "100000 100000")
    choice = choose_threads(requested=6, environ={"OMP_NUM_THREADS": "3"}, cgroup_root=root)
    assert choice == ThreadChoice(intra_op=6, inter_op=4, source="requested 6")


@pytest.mark.parametrize("requested", [0, -1, True, 2.0])
def test_invalid_request_is_a_user_error(requested: object) -> None:
    with pytest.raises(UserError):
        choose_threads(requested=requested, environ={})  # type: ignore[arg-type]


def test_default_environment_is_os_environ(
    tmp_path: Path, sixteen_cpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert choose_threads(cgroup_root=tmp_path).source == "OMP_NUM_THREADS=7"


def test_apply_threads_changes_torch(restore_torch: list[int]) -> None:
    target = 1 if torch.get_num_threads() != 1 else 2
    interop = torch.get_num_interop_threads() + 1
    apply_threads(ThreadChoice(intra_op=target, inter_op=interop, source="test"))
    assert torch.get_num_threads() == target
    assert restore_torch == [interop]


def test_apply_threads_skips_interop_already_in_place(restore_torch: list[int]) -> None:
    apply_threads(ThreadChoice(intra_op=1, inter_op=torch.get_num_interop_threads(), source="test"))
    assert restore_torch == []


def test_apply_threads_keeps_interop_torch_refuses(
    restore_torch: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(count: int) -> None:
        raise RuntimeError("cannot set number of interop threads after parallel work has started")

    monkeypatch.setattr(torch, "set_num_interop_threads", refuse)
    before = torch.get_num_interop_threads()
    choice = ThreadChoice(intra_op=1, inter_op=before + 1, source="test")
    apply_threads(choice)
    assert torch.get_num_threads() == 1
    assert torch.get_num_interop_threads() == before
    assert current_threads()["threads_source"] == "test"


def test_current_threads_reports_source(restore_torch: list[int]) -> None:
    assert current_threads()["threads_source"] == "torch default (not configured)"
    apply_threads(ThreadChoice(intra_op=1, inter_op=1, source="OMP_NUM_THREADS=1"))
    assert current_threads() == {
        "torch_threads": "1",
        "torch_interop_threads": str(torch.get_num_interop_threads()),
        "threads_source": "OMP_NUM_THREADS=1",
    }


def test_current_threads_notices_later_changes(restore_torch: list[int]) -> None:
    apply_threads(ThreadChoice(intra_op=1, inter_op=1, source="requested 1"))
    torch.set_num_threads(2)
    assert current_threads()["threads_source"] == "requested 1; since changed to 2 outside neurosim.threads"


def test_configure_threads_chooses_and_applies(
    restore_torch: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    choice = configure_threads()
    assert choice.source == "OMP_NUM_THREADS=1"
    assert torch.get_num_threads() == 1
    assert current_threads()["threads_source"] == "OMP_NUM_THREADS=1"


def test_provenance_records_threads(restore_torch: list[int]) -> None:
    apply_threads(ThreadChoice(intra_op=1, inter_op=1, source="requested 1"))
    record = provenance("cpu")
    assert record["torch_threads"] == "1"
    assert record["torch_interop_threads"] == str(torch.get_num_interop_threads())
    assert record["threads_source"] == "requested 1"
