import pytest

from neurosim.errors import UserError
from neurosim.sweep.cell import cell_id, cell_raw_config
from neurosim.sweep.grid import cells, merge_axes, parse_grid_option, split_top_level
from neurosim.sweep.merge import axis_label
from neurosim.sweep.run import plan


def test_split_respects_brackets_and_quotes():
    assert split_top_level("[64,32],[128]") == ["[64,32]", "[128]"]
    assert split_top_level('1, "a,b", 3') == ["1", '"a,b"', "3"]


def test_grid_option_values_are_typed_and_named():
    axis = parse_grid_option("models.mlp.hidden_sizes=[64,32],[128]")
    assert axis.values == ([64, 32], [128]) and axis.dim == "hidden_sizes"
    lr = parse_grid_option("training.lr=0.01,0.1")
    assert lr.values == (0.01, 0.1) and lr.dim == "lr"
    seeds = parse_grid_option("seeds=0,1,2")
    assert seeds.values == ([0], [1], [2]) and seeds.dim == "seed"


def test_cells_are_the_cartesian_product():
    axes = [parse_grid_option("training.lr=0.01,0.1"), parse_grid_option("task.n_per_class=5,all")]
    grid = cells(axes)
    assert len(grid) == 4
    assert {"training.lr": 0.1, "task.n_per_class": "all"} in grid


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["trainig.lr=1,2"], "unknown grid key 'trainig.lr'"),
        (["training.lr"], "expects key=v1,v2"),
        (["training.lr=0.1", "models.mlp.lr=0.1"], "same dimension name"),
    ],
)
def test_bad_grids_are_refused(specs, message):
    with pytest.raises(UserError, match=message):
        merge_axes([], [parse_grid_option(s) for s in specs])


def test_cell_identity_is_the_resolved_config():
    base = {"name": "t", "pairs": ["perceptron_linear"], "task": {"name": "digits"}, "sweep": {"grid": {}}}
    a = cell_raw_config(base, {"training.lr": 0.1})
    b = cell_raw_config(base, {"training.lr": 0.1})
    c = cell_raw_config(base, {"training.lr": 0.2})
    assert "sweep" not in a and a["training"]["lr"] == 0.1
    assert cell_id(a) == cell_id(b) != cell_id(c)
    # a cell that does not resolve still gets an identity (its failure is recorded under it)
    assert len(cell_id(cell_raw_config(base, {"training.lr": -1}))) == 16


def test_grid_from_the_comparison_file_and_command_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "c"\npairs = ["perceptron_linear"]\n[sweep.grid]\n"task.n_per_class" = [1, 10, "all"]\n'
        '"training.lr" = [0.1]\n'
    )
    _, axes = plan(path, grid=["training.lr=0.01,0.02"])
    assert {a.key: a.values for a in axes} == {
        "task.n_per_class": (1, 10, "all"),
        "training.lr": (0.01, 0.02),
    }
    assert axis_label(axes[0], "all", all_label=144) == 144
    path.write_text('name = "c"\npairs = ["perceptron_linear"]\n[sweep]\ngrids = {}\n')
    with pytest.raises(UserError, match="unknown key 'grids' in \\[sweep\\]"):
        plan(path)
