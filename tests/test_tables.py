"""--data tables through pyarrow (lossctl.io.arrow, lossctl.evaluation.batches, lossctl.cli.tables).

Every answer is compared with the in-memory computation of the same arrays (lossctl.compute and the
block engine), and --group-by with a pandas groupby computed here, independently of lossctl.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lossctl.errors import InputError
from lossctl.evaluation.core import compute
from lossctl.evaluation.engine import evaluate, separable
from lossctl.losses.registry import LOSSES
from tests.conftest import assert_usage_error, run_cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")


@pytest.fixture
def frame():
    rng = np.random.default_rng(7)
    n = 2_000
    return {
        "id": np.arange(n),
        "y": rng.normal(size=n),
        "y_hat": rng.normal(size=n) * 1.5,
        "w": rng.uniform(0.1, 2.0, size=n),
        "split": rng.choice(["train", "val", "test"], n),
        "model": rng.choice([1, 2], n),
    }


def write_shards(folder, frame, parts=4, suffix="parquet"):
    table = pa.table(frame)
    rows = table.num_rows
    folder.mkdir(exist_ok=True)
    for part in range(parts):
        piece = table.slice(part * rows // parts, (part + 1) * rows // parts - part * rows // parts)
        path = folder / f"part-{part}.{suffix}"
        pq.write_table(piece, path) if suffix == "parquet" else feather.write_feather(piece, path)
    return folder


def json_of(args):
    run = run_cli([*args, "--format", "json"])
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


def reference(loss, pred, target, **params):
    return compute(loss, pred, target, **params)


@pytest.mark.parametrize("layout", ["parquet", "feather", "csv", "glob", "folder", "feather-glob"])
def test_every_layout_equals_the_in_memory_result(tmp_path, frame, layout):
    table = pa.table(frame)
    if layout == "parquet":
        source = tmp_path / "t.parquet"
        pq.write_table(table, source, row_group_size=300)
    elif layout == "feather":
        source = tmp_path / "t.feather"
        feather.write_feather(table, source, chunksize=300)
    elif layout == "csv":
        source = tmp_path / "t.csv"
        import pyarrow.csv as pv

        pv.write_csv(table, source)
    elif layout == "glob":
        source = f"{write_shards(tmp_path / 'shards', frame)}/part-*.parquet"
    elif layout == "folder":
        source = write_shards(tmp_path / "shards", frame, parts=3)
    else:
        source = f"{write_shards(tmp_path / 'f', frame, suffix='feather')}/*.feather"
    for loss, params in (("mse", []), ("huber", ["--delta", "0.5"]), ("l1", [])):
        for reduction in ("mean", "sum"):
            args = [loss, "--data", str(source), "--pred-col", "y_hat", "--target-col", "y", *params]
            # --dropna routes CSV through pyarrow too (nothing is missing: dropped 0)
            got = json_of([*args, "--reduction", reduction, "--dropna"])
            extra = {"delta": 0.5} if params else {}
            want = reference(loss, frame["y_hat"], frame["y"], reduction=reduction, **extra)
            assert got["sum"] == want.sum and got["mean"] == want.mean and got["value"] == want.value
            assert got["rows"] == len(frame["y"]) and got["dropped"] == 0


def table_inputs(spec, rng):
    """A loss's sample as table columns: (N,) columns, or (N, C) list columns; None when it has no table form."""
    inputs = spec.testing.sample(rng)
    pred, target = inputs.get("pred"), inputs.get("target")
    if set(inputs) - {"pred", "target"} or pred is None or target is None or pred.ndim > 2 or target.ndim > 2:
        return None
    if pred.ndim == 0 or pred.shape[0] != np.shape(target)[0] or (pred.ndim == 2 and pred.shape[0] < 2):
        return None
    return pred, target


def column(values):
    if values.ndim == 1:
        return pa.array(values)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def open_table_of(folder, pred, target):
    from lossctl.io.arrow import Columns, open_table

    pq.write_table(pa.table({"p": column(pred), "t": column(target)}), folder / "t.parquet")
    return open_table(str(folder / "t.parquet"), Columns("p", "t"))


TABLE_LOSSES = [
    name
    for name in LOSSES
    if LOSSES.resolve(name).target != "none"
    and not LOSSES.resolve(name).images
    and LOSSES.resolve(name).reductions.mean_weights is None
    and not any(p.required for p in LOSSES.resolve(name).tensor_params)
]


@pytest.mark.parametrize("name", TABLE_LOSSES)
def test_batches_equal_the_block_engine_for_every_row_loss(tmp_path, name):
    """Record batches of 3 rows, combined exactly: sums and means identical to the engine on whole arrays."""
    from lossctl.evaluation.batches import evaluate_table, make_plan

    spec = LOSSES.resolve(name)
    rng = np.random.default_rng(3)
    found = None
    for _ in range(20):
        found = table_inputs(spec, rng)
        if found is not None and found[0].shape[0] >= 2:
            break
    if found is None:
        pytest.skip(f"{name}: no table layout for its inputs")
    pred, target = found
    if not separable(spec, pred, {}):
        with pytest.raises(InputError, match="couples the rows"):
            evaluate_table(make_plan(spec), lambda: open_table_of(tmp_path, pred, target).batches(3))
        return
    pred, target = np.concatenate([pred] * 4), np.concatenate([target] * 4)  # several batches of 3 rows
    source = open_table_of(tmp_path, pred, target)
    for reduction in ("mean", "sum"):
        try:
            want, _ = evaluate(spec, pred, target, reduction=reduction, want_grad=False)
        except Exception as exc:  # the engine refuses this sample: the table path must refuse it too
            with pytest.raises(type(exc)):
                evaluate_table(make_plan(spec, reduction=reduction), lambda: source.batches(3))
            continue
        got = evaluate_table(make_plan(spec, reduction=reduction), lambda: source.batches(3))
        assert got.sum == want.sum and got.count == want.count, (name, got.sum, want.sum)
        assert got.mean == want.mean or (np.isnan(got.mean) and np.isnan(want.mean))
        assert got.value == want.value or (np.isnan(got.value) and np.isnan(want.value))


def test_group_by_matches_pandas_groupby(tmp_path, frame):
    pd = pytest.importorskip("pandas")
    folder = write_shards(tmp_path / "s", frame, parts=5)
    got = json_of(["mse", "--data", f"{folder}/*.parquet", "--pred-col", "y_hat", "--target-col", "y",
                   "--group-by", "split,model"])  # fmt: skip
    df = pd.DataFrame(frame)
    df["loss"] = (df["y_hat"] - df["y"]) ** 2
    expected = df.groupby(["split", "model"])["loss"].agg(["count", "sum", "mean"])
    assert got["group_by"] == ["split", "model"]
    assert len(got["groups"]) == len(expected)
    for group in got["groups"]:
        row = expected.loc[(group["group"]["split"], group["group"]["model"])]
        assert group["rows"] == row["count"] == group["count"]
        assert group["sum"] == pytest.approx(row["sum"], rel=1e-13)
        assert group["mean"] == pytest.approx(row["mean"], rel=1e-13)
        assert group["value"] == group["mean"]
    assert sum(g["rows"] for g in got["groups"]) == got["rows"] == len(df)
    assert got["value"] == compute("mse", frame["y_hat"], frame["y"]).value


def test_group_by_a_hive_partition_column_and_sum_reduction(tmp_path, frame):
    pd = pytest.importorskip("pandas")
    import pyarrow.dataset as ds

    ds.write_dataset(pa.table(frame), tmp_path / "hive", format="parquet", partitioning=["split"],
                     partitioning_flavor="hive")  # fmt: skip
    got = json_of(["l1", "--data", str(tmp_path / "hive"), "--pred-col", "y_hat", "--target-col", "y",
                   "--group-by", "split", "--reduction", "sum"])  # fmt: skip
    df = pd.DataFrame(frame)
    expected = (df["y_hat"] - df["y"]).abs().groupby(df["split"]).sum()
    assert {g["group"]["split"]: g["value"] for g in got["groups"]} == pytest.approx(expected.to_dict(), rel=1e-13)
    assert got["value"] == compute("l1", frame["y_hat"], frame["y"], reduction="sum").value


def test_group_by_csv_and_table_formats(tmp_path, frame):
    pq.write_table(pa.table(frame), tmp_path / "t.parquet")
    args = ["mse", "--data", str(tmp_path / "t.parquet"), "--pred-col", "y_hat", "--target-col", "y", "--group-by",
            "split"]  # fmt: skip
    csv_run = run_cli([*args, "--format", "csv"])
    lines = csv_run.stdout.splitlines()
    assert lines[0] == "split,rows,count,sum,mean,value" and len(lines) == 5
    assert lines[-1].startswith(",2000,")
    table = run_cli(args)
    assert table.code == 0 and "(all)" in table.stdout and "train" in table.stdout
    value = run_cli([*args, "--format", "value"])
    assert float(value.stdout) == compute("mse", frame["y_hat"], frame["y"]).value


def logits_frame(rng, n=500, classes=4):
    logits = rng.normal(size=(n, classes)) * 2
    labels = rng.integers(0, classes, n)
    return logits, labels


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_from_a_list_column_and_from_a_column_pattern(tmp_path, smoothing):
    logits, labels = logits_frame(np.random.default_rng(1))
    columns = {"logits": column(logits), "label": pa.array(labels)}
    columns.update({f"logit_{k}": pa.array(logits[:, k]) for k in range(logits.shape[1])})
    pq.write_table(pa.table(columns), tmp_path / "ce.parquet", row_group_size=64)
    want = compute("cross_entropy", logits, labels.astype(float), label_smoothing=smoothing)
    for pred_col in ("logits", "logit_*"):
        got = json_of(["cross_entropy", "--data", str(tmp_path / "ce.parquet"), "--pred-col", pred_col,
                       "--target-col", "label", "--label-smoothing", str(smoothing)])  # fmt: skip
        assert (got["value"], got["sum"]) == (want.value, want.sum)
        assert got["shape"] == [500]


@pytest.mark.parametrize("extra", [[], ["--dropna"], ["--group-by", "label"]], ids=["plain", "dropna", "group-by"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_class_weights_count_in_the_weighted_mean(tmp_path, extra, reduction):
    """--weight (one weight per class, shared by every batch) divides the mean by Σ w[target], as compute."""
    logits, labels = logits_frame(np.random.default_rng(3), classes=3)
    pq.write_table(pa.table({"logits": column(logits), "label": pa.array(labels)}), tmp_path / "ce.parquet",
                   row_group_size=97)  # fmt: skip
    weights = np.array([1.0, 2.0, 0.5])
    want = compute("cross_entropy", logits, labels.astype(float), weight=weights, reduction=reduction)
    got = json_of(["cross_entropy", "--data", str(tmp_path / "ce.parquet"), "--pred-col", "logits",
                   "--target-col", "label", "--weight", "1,2,0.5", "--reduction", reduction, *extra])  # fmt: skip
    assert (got["value"], got["sum"], got["mean"], got["count"]) == (want.value, want.sum, want.mean, want.count)


@pytest.mark.parametrize("run_rows", [1, 500, 10**9])
def test_a_parquet_file_of_many_row_groups_is_read_run_by_run(tmp_path, frame, monkeypatch, run_rows):
    """pyarrow would pre-buffer a whole file; runs of row groups keep memory bounded and change no number."""
    import lossctl.io.table_files as files

    monkeypatch.setattr(files, "RUN_ROWS", run_rows)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(frame), path, row_group_size=300)  # 7 row groups
    import pyarrow.dataset as ds

    runs = list(files.by_row_groups(ds.dataset(path, format="parquet")).get_fragments())
    assert len(runs) == {1: 7, 500: 4, 10**9: 1}[run_rows]
    args = ["mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "--group-by", "split"]
    got = json_of(args)
    want = compute("mse", frame["y_hat"], frame["y"])
    assert (got["value"], got["sum"], got["rows"]) == (want.value, want.sum, 2_000)
    gap = dict(frame, y_hat=np.where(np.arange(2_000) == 1_234, np.nan, frame["y_hat"]))
    pq.write_table(pa.table(gap), path, row_group_size=300)
    assert_usage_error(run_cli(args), "--pred-col", "'y_hat'", "holds NaN at row 1235")


def test_weight_column_is_the_losses_per_element_weight(tmp_path, frame):
    pq.write_table(pa.table(frame), tmp_path / "t.parquet", row_group_size=333)
    for loss in ("mse", "l1"):
        got = json_of([loss, "--data", str(tmp_path / "t.parquet"), "--pred-col", "y_hat", "--target-col", "y",
                       "--weight-col", "w"])  # fmt: skip
        want = compute(loss, frame["y_hat"], frame["y"], weight=frame["w"])
        assert got["sum"] == want.sum
        assert got["value"] == pytest.approx(want.value, rel=1e-15)
    run = run_cli(["smooth_l1", "--data", str(tmp_path / "t.parquet"), "--pred-col", "y_hat", "--target-col", "y",
                   "--weight-col", "w"])  # fmt: skip
    assert_usage_error(run, "--weight-col", "smooth_l1")


@pytest.fixture
def gappy(tmp_path):
    y = pa.array([1.0, 2.0, None, 4.0, 5.0, 6.0])
    y_hat = pa.array([1.5, 2.0, 3.0, float("nan"), 5.5, None])
    path = tmp_path / "gaps.parquet"
    pq.write_table(pa.table({"y": y, "y_hat": y_hat}), path, row_group_size=2)
    return path


def test_missing_values_name_the_column_and_the_row(gappy):
    run = run_cli(["mse", "--data", str(gappy), "--pred-col", "y_hat", "--target-col", "y"])
    assert_usage_error(run, "--target-col", "'y'", "row 3", "--dropna")
    only_pred = run_cli(["mse", "--data", str(gappy), "--pred-col", "y_hat", "--target-col", "y_hat"])
    assert_usage_error(only_pred, "'y_hat'", "NaN at row 4")


def test_dropna_skips_and_counts_rows(gappy):
    got = json_of(["mse", "--data", str(gappy), "--pred-col", "y_hat", "--target-col", "y", "--dropna"])
    kept_pred, kept_target = np.array([1.5, 2.0, 5.5]), np.array([1.0, 2.0, 5.0])
    assert got["dropped"] == 3 and got["rows"] == 3
    assert got["value"] == compute("mse", kept_pred, kept_target).value


@pytest.mark.parametrize(
    ("option", "wanted", "fragments"),
    [
        ("--pred-col", "yhat", ["--pred-col", "no column 'yhat'", "y_hat", "split"]),
        ("--target-col", "Y2", ["--target-col", "no column 'Y2'"]),
        ("--pred-col", "logit_*", ["--pred-col", "no column", "matches 'logit_*'"]),
        ("--group-by", "fold", ["--group-by", "no column 'fold'"]),
        ("--pred-col", "split", ["--pred-col", "'split'", "not numbers"]),
    ],
)
def test_wrong_columns_list_the_columns_found(tmp_path, frame, option, wanted, fragments):
    write_shards(tmp_path / "s", frame, parts=2)
    args = {"--pred-col": "y_hat", "--target-col": "y", option: wanted}
    run = run_cli(["mse", "--data", f"{tmp_path}/s/*.parquet", *[x for kv in args.items() for x in kv]])
    assert_usage_error(run, *fragments)


def test_table_options_on_standard_input_say_what_to_do():
    run = run_cli(["mse", "--data", "-", "--pred-col", "a", "--target-col", "b", "--group-by", "g"], stdin="a,b,g\n")
    assert_usage_error(run, "--data -", "save the table to a file")


def test_shards_that_do_not_match(tmp_path, frame):
    assert_usage_error(run_cli(["mse", "--data", f"{tmp_path}/none-*.parquet", "--pred-col", "a", "--target-col",
                                "b"]), "no file matches")  # fmt: skip
    pq.write_table(pa.table({"a": [1.0]}), tmp_path / "x.parquet")
    pq.write_table(pa.table({"b": [1.0]}), tmp_path / "y.parquet")
    run = run_cli(["mse", "--data", f"{tmp_path}/*.parquet", "--pred-col", "a", "--target-col", "b"])
    assert run.code == 2 and "error: " in run.stderr and "Traceback" not in run.stderr


def test_save_elements_and_grad_as_parquet_with_key_columns(tmp_path, frame):
    pq.write_table(pa.table(frame), tmp_path / "t.parquet", row_group_size=700)
    out, grad = tmp_path / "losses.parquet", tmp_path / "grad.parquet"
    for reduction in ("mean", "sum"):
        got = json_of(["huber", "--data", str(tmp_path / "t.parquet"), "--pred-col", "y_hat", "--target-col", "y",
                       "--keep-col", "id,split", "--save-elements", str(out), "--save-grad", str(grad),
                       "--reduction", reduction])  # fmt: skip
        want = compute("huber", frame["y_hat"], frame["y"], reduction=reduction)
        saved = pq.read_table(out)
        assert saved.column_names == ["id", "split", "loss"]
        assert np.array_equal(saved.column("id").to_numpy(), frame["id"])
        assert np.array_equal(saved.column("loss").to_numpy(), want.elements)
        assert np.array_equal(pq.read_table(grad).column("grad").to_numpy(), want.grad)
        assert got["elements"] == str(out) and got["grad"] == str(grad)


def test_a_failed_run_leaves_no_parquet_file(tmp_path, gappy):
    out = tmp_path / "losses.parquet"
    run = run_cli(["mse", "--data", str(gappy), "--pred-col", "y_hat", "--target-col", "y", "--save-elements",
                   str(out)])  # fmt: skip
    assert_usage_error(run, "row 3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gaps.parquet"]


def test_table_only_options_need_data_and_parquet_saves_need_a_table(tmp_path):
    assert_usage_error(run_cli(["mse", "--pred", "1,2", "--target", "1,3", "--group-by", "x"]), "--group-by",
                       "--data")  # fmt: skip
    assert_usage_error(run_cli(["mse", "--pred", "1,2", "--target", "1,3", "--save-elements",
                                str(tmp_path / "e.parquet")]), ".parquet", "--data")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_plain_csv_value_through_pyarrow_and_the_builtin_reader_agree(tmp_path, frame):
    import pyarrow.csv as pv

    pv.write_csv(pa.table(frame), tmp_path / "t.csv")
    run = run_cli(["mse", "--data", str(tmp_path / "t.csv"), "--pred-col", "y_hat", "--target-col", "y", "--format",
                   "value"])  # fmt: skip
    assert float(run.stdout) == compute("mse", frame["y_hat"], frame["y"]).value
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    bad = run_cli(["mse", "--data", str(tmp_path / "bad.csv"), "--pred-col", "a", "--target-col", "b", "--format",
                   "value"])  # fmt: skip
    assert_usage_error(bad, "line 3", "'x'")  # the built-in reader names the line


def test_start_up_does_not_import_pyarrow_or_dask():
    code = (
        "import sys\nfrom lossctl.cli import main\nsys.argv=['lossctl','mse','--pred','1,2','--target','1,3',"
        "'--format','value']\ntry:\n main()\nexcept SystemExit:\n pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow','dask','distributed','pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("options", [[], ["--dropna"]])
def test_one_csv_file_does_not_import_pyarrow_dataset(tmp_path, options):
    """pyarrow's streaming CSV reader reads one file; importing pyarrow.dataset would cost more than reading."""
    path = tmp_path / "pairs.csv"
    path.write_text("y_hat,y\n1,2\n3,5\n")
    argv = ["lossctl", "mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "--format", "value",
            *options]  # fmt: skip
    code = (
        f"import sys\nfrom lossctl.cli import main\nsys.argv={argv!r}\ntry:\n main()\nexcept SystemExit:\n pass\n"
        "print('pyarrow.dataset' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines() == ["2.5", "False"]


def test_csv_with_a_gap_names_the_row_or_drops_it(tmp_path):
    (tmp_path / "gap.csv").write_text("a,b,note\n1,2,x\n3,,y\n5,7,z\n")
    args = ["mse", "--data", str(tmp_path / "gap.csv"), "--pred-col", "a", "--target-col", "b", "--group-by", "note"]
    assert_usage_error(run_cli(args), "--target-col", "'b'", "row 2", "--dropna")
    got = json_of([*args, "--dropna"])
    assert (got["rows"], got["dropped"], got["value"]) == (2, 1, 2.5)  # ((1-2)² + (5-7)²) / 2
    assert [g["group"]["note"] for g in got["groups"]] == ["x", "z"]


@pytest.mark.parametrize("cell", ["0x10", "true", "FALSE", "1_0", "0b11", "1,5"])
@pytest.mark.parametrize("layout", ["file", "glob", "hive"])
def test_csv_number_columns_hold_decimal_numbers_only(tmp_path, cell, layout):
    """pyarrow infers 0x10 as the integer 16 and true as a boolean; the built-in reader refuses both, and a
    table read through pyarrow must not compute what the built-in reader would refuse."""
    folder = tmp_path / "split=a" if layout == "hive" else tmp_path
    folder.mkdir(exist_ok=True)
    quoted = f'"{cell}"' if "," in cell else cell
    (folder / "t.csv").write_text(f"y_hat,y\n{quoted},2\n3,5\n")
    data = {"file": folder / "t.csv", "glob": tmp_path / "*.csv", "hive": tmp_path}[layout]
    run = run_cli(["mse", "--data", str(data), "--pred-col", "y_hat", "--target-col", "y", "--dropna"])
    assert_usage_error(run, "--data", cell)
    builtin = run_cli(["mse", "--data", str(folder / "t.csv"), "--pred-col", "y_hat", "--target-col", "y"])
    assert_usage_error(builtin, cell)  # the built-in reader refuses it too


def test_one_parquet_file_is_read_without_the_dataset_module(tmp_path, frame):
    """pyarrow.dataset costs 0.4 s to import; one file (outside Hive folders) needs only pyarrow.parquet."""
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"y_hat": frame["y_hat"], "y": frame["y"]}), path, row_group_size=300)
    argv = ["mse", "--data", str(path), "--pred-col", "y_hat", "--target-col", "y", "-f", "value"]
    code = (
        f"import sys\nfrom lossctl.cli.app import main\nsys.argv = ['lossctl', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "sys.stderr.write(str('pyarrow.dataset' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "False"
    assert float(done.stdout) == compute("mse", frame["y_hat"], frame["y"]).value


def test_one_parquet_file_in_a_hive_folder_keeps_its_partition_column(tmp_path, frame):
    folder = tmp_path / "split=train"
    folder.mkdir()
    pq.write_table(pa.table({"y_hat": frame["y_hat"], "y": frame["y"]}), folder / "p.parquet")
    argv = ["mse", "--data", str(folder / "p.parquet"), "--pred-col", "y_hat", "--target-col", "y"]
    got = json_of([*argv, "--group-by", "split"])
    assert [g["group"] for g in got["groups"]] == [{"split": "train"}]
