"""Dataset-scale runs on real engines (issue 14, docs/scale.md): a real local Ray
(`ray.init(num_cpus=2)`) and a real Dask `LocalCluster(n_workers=2, threads_per_worker=1)`, no
mocks, on a tiny folder of images with stand-in model files.

The reference everywhere is the single-process command (`cliff predict` / `cliff annotate`
without --ray/--dask): a distributed run must write the same arrays, bit for bit (same keys,
dtypes, shapes, values). That holds because every input is computed alone, the same way, in
any process: the core's results do not depend on the batch composition or the thread count
(tests/test_threads.py), the annotator fits each image on its own.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

ray = pytest.importorskip("ray")
distributed = pytest.importorskip("distributed")

import cliff  # noqa: E402
from cliff._standin import standin_files  # noqa: E402
from cliff.cli import build_parser, main  # noqa: E402
from cliff.distributed import LocalEngine, run_job  # noqa: E402
from cliff.distributed.cli import annotate_job, predict_job  # noqa: E402
from cliff.distributed.dask_engine import DaskEngine  # noqa: E402
from cliff.distributed.ray_engine import RayEngine  # noqa: E402

pytestmark = pytest.mark.slow

N_IMAGES = 6
COCO17_UPRIGHT = np.array([  # a standing person in a unit box (x right, y down): COCO-17 order
    [.50, .08], [.53, .06], [.47, .06], [.56, .08], [.44, .08], [.62, .22], [.38, .22],
    [.68, .40], [.32, .40], [.70, .55], [.30, .55], [.58, .56], [.42, .56], [.59, .77],
    [.41, .77], [.60, .96], [.40, .96]])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6 small JPEGs with 1-2 people each, one corrupt 'image', cliff boxes JSON, a COCO
    keypoints file (the corrupt image annotated too), stand-in res50 + SMPL files."""
    root = tmp_path_factory.mktemp("dist")
    imgs = root / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(7)
    boxes, images, anns = {}, [], []
    names = [f"im{k}.jpg" for k in range(N_IMAGES)] + ["bad.jpg"]
    for k, name in enumerate(names):
        if name == "bad.jpg":
            (imgs / name).write_bytes(b"\xff\xd8 this is not a JPEG")
        else:
            cliff.save_image(str(imgs / name), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
        b = [[20.0, 10.0, 80.0, 115.0], [90.0, 15.0, 150.0, 118.0]][: 1 + k % 2]
        boxes[str(imgs / name)] = b
        images.append({"id": k, "file_name": name})
        for x1, y1, x2, y2 in b:
            kp = np.c_[COCO17_UPRIGHT * [x2 - x1, y2 - y1] + [x1, y1], np.full(17, 2.0)]
            anns.append({"image_id": k, "keypoints": kp.ravel().round(2).tolist(),
                         "bbox": [x1, y1, x2 - x1, y2 - y1]})
    (root / "boxes.json").write_text(json.dumps(boxes))
    (root / "kp.json").write_text(json.dumps({"images": images, "annotations": anns}))
    ckpt, smpl = standin_files("res50", str(root / "standin"))
    return {"root": root, "imgs": imgs, "boxes": root / "boxes.json", "kp": root / "kp.json",
            "ckpt": ckpt, "smpl": smpl}


def predict_argv(d, out, *extra):
    return ["predict", str(d["imgs"]), "--ckpt", d["ckpt"], "--smpl", d["smpl"], "--boxes",
            str(d["boxes"]), "-o", str(out), "--quiet", *extra]


def annotate_argv(d, out, *extra):
    return ["annotate", "--images", str(d["imgs"]), "--keypoints", str(d["kp"]), "--ckpt",
            d["ckpt"], "--smpl", d["smpl"], "-o", str(out), "--no-progress", "--max-iter", "10",
            *extra]


@pytest.fixture(scope="module")
def single(data):
    """The single-process outputs (the reference) and their exit statuses."""
    out = data["root"] / "single"
    out.mkdir()
    rp = main(predict_argv(data, out / "pred.npz"))
    ra = main(annotate_argv(data, out / "pgt.npz"))
    return {"predict": out / "pred.npz", "annotate": out / "pgt.npz", "status": (rp, ra)}


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def assert_same_npz(a, b):
    """Same keys, dtypes, shapes and values, bit for bit."""
    za, zb = np.load(a), np.load(b)
    assert za.files == zb.files
    for k in za.files:
        assert za[k].dtype == zb[k].dtype, k
        assert za[k].shape == zb[k].shape, k
        np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


def manifest(out):
    return json.loads((out.parent / (out.name + ".parts") / "manifest.json").read_text())


# ---- the reference ---------------------------------------------------------------------

def test_the_reference_runs_skip_the_corrupt_image_and_find_people(single):
    assert single["status"] == (1, 1)           # one input skipped: exit status 1
    assert len(np.load(single["predict"])["imgname"]) == N_IMAGES
    assert len(np.load(single["annotate"])["pose"]) > 0


# ---- Ray -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_predict(data, single, ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("rp") / "pred.npz"
    status = main(predict_argv(data, out, "--ray", "--shard-size", "2"))
    return out, status


def test_ray_predict_writes_the_single_process_file(ray_predict, single):
    out, status = ray_predict
    assert status == 1
    assert_same_npz(single["predict"], out)


def test_ray_predict_records_the_corrupt_image_in_the_manifest(ray_predict, data):
    m = manifest(ray_predict[0])
    errs = [e for s in m["shards"] for e in s["errors"]]
    assert [e[0] for e in errs] == [str(data["imgs"] / "bad.jpg")]
    assert "not a readable image" in errs[0][1]
    assert all(s["status"] == "done" for s in m["shards"]) and len(m["shards"]) == 4


def test_ray_annotate_writes_the_single_process_file(data, single, ray_session, tmp_path):
    out = tmp_path / "pgt.npz"
    assert main(annotate_argv(data, out, "--ray", "--shard-size", "3")) == 1
    assert_same_npz(single["annotate"], out)
    errs = [e for s in manifest(out)["shards"] for e in s["errors"]]
    assert len(errs) == 1 and errs[0][0].endswith("bad.jpg")


def test_ray_killed_actor_is_restarted_and_its_shard_retried(data, single, ray_session, tmp_path):
    args = build_parser().parse_args(
        predict_argv(data, tmp_path / "pred.npz", "--ray", "--shard-size", "2"))
    job, shards, out = predict_job(args)
    marker = tmp_path / "killed"
    job["_crash_once"] = [str(marker), 1]       # the actor running shard 1 dies mid-shard
    s = run_job(job, shards, out, RayEngine(workers=2))
    assert marker.exists()                      # it did die
    assert s["failed"] == 0 and s["ran"] == len(shards)
    dead_pid = marker.read_text().strip()
    assert manifest(tmp_path / "pred.npz")["shards"][1]["worker"].split(":")[-1] != dead_pid
    assert_same_npz(single["predict"], out)     # every image exactly once, in order


@pytest.mark.parametrize("cpus", [1, 2])
def test_ray_actor_threads_come_from_its_cpu_reservation(ray_session, cpus):
    from cliff.distributed.ray_engine import _ShardActor

    actor = ray.remote(num_cpus=cpus)(_ShardActor).remote({"kind": "predict"}, None)
    try:
        assert ray.get(actor.threads.remote()) == cpus
    finally:
        ray.kill(actor)


# ---- Ray Data ----------------------------------------------------------------------------

def test_ray_data_predictor_rows_are_the_estimators(data, ray_session):
    from cliff.distributed.ray_engine import CliffPredictor

    boxes = json.loads(data["boxes"].read_text())
    paths = [str(data["imgs"] / f"im{k}.jpg") for k in range(3)] + [str(data["imgs"] / "bad.jpg")]
    ds = ray.data.from_items([{"path": p, "boxes": np.array(boxes[p])} for p in paths])
    rows = ds.map_batches(CliffPredictor, fn_constructor_kwargs={"ckpt": data["ckpt"], "smpl": data["smpl"]},
                          batch_size=2, num_cpus=1, concurrency=1, batch_format="numpy").take_all()
    est = cliff.Estimator(data["ckpt"], data["smpl"])
    want = []
    for p in paths[:3]:
        r = est.run(cliff.read_image(p), boxes[p])
        want += [(p, r["pose"][k], r["t_full"][k]) for k in range(len(r["pose"]))]
    # Ray Data does not keep the order of blocks: compare per image (a stable sort keeps each
    # image's people in their order)
    good = sorted((r for r in rows if not r["error"]), key=lambda r: str(r["imgname"]))
    assert [r["imgname"] for r in good] == [w[0] for w in want]
    for r, (_, pose, t) in zip(good, want):
        np.testing.assert_array_equal(r["pose"], pose)
        np.testing.assert_array_equal(r["global_t"], t)
    bad = [r for r in rows if r["error"]]
    assert len(bad) == 1 and bad[0]["imgname"].endswith("bad.jpg") and np.isnan(bad[0]["pose"]).all()


# ---- Dask ------------------------------------------------------------------------------

def test_dask_predict_writes_the_single_process_file(data, single, dask_client, tmp_path):
    out = tmp_path / "pred.npz"
    assert main(predict_argv(data, out, "--dask", dask_client.scheduler.address,
                             "--shard-size", "2")) == 1
    assert_same_npz(single["predict"], out)
    errs = [e for s in manifest(out)["shards"] for e in s["errors"]]
    assert [e[0] for e in errs] == [str(data["imgs"] / "bad.jpg")]


def test_dask_annotate_writes_the_single_process_file(data, single, dask_client, tmp_path):
    out = tmp_path / "pgt.npz"
    assert main(annotate_argv(data, out, "--dask", dask_client.scheduler.address,
                              "--shard-size", "3")) == 1
    assert_same_npz(single["annotate"], out)


def test_dask_annotate_min_confidence_matches_the_single_process_file(data, single, dask_client,
                                                                     tmp_path):
    # --min-confidence travels with the job: the Dask run writes exactly the single-process
    # file's people whose confidence is at least the threshold (here its median)
    z = np.load(single["annotate"])
    c = z["fit_confidence"]
    thr = float(np.median(c))
    dist = tmp_path / "dist.npz"
    assert main(annotate_argv(data, dist, "--min-confidence", repr(thr), "--dask",
                              dask_client.scheduler.address, "--shard-size", "3")) == 1
    d = np.load(dist)
    keep = c >= thr
    assert 0 < keep.sum() < len(c)
    np.testing.assert_array_equal(d["imgname"], z["imgname"][keep])
    np.testing.assert_allclose(d["pose"], z["pose"][keep], rtol=0, atol=1e-9)


@pytest.mark.parametrize("extra, guard", [
    (["--upright-deg", "5", "--w-up", "0.5"], {"upright_deg": 5.0, "w_up": 0.5, "root_hold": "auto"}),
    (["--root-hold", "2"], {"root_hold": 2.0}),
    (["--upright-deg", "5", "--no-guard"], {"upright_deg": 5.0, "root_hold": None}),
    (["--robust-scale", "4"], {"robust_scale": 4.0, "w_depth": 25.0}),
    (["--robust-scale", "4", "--no-guard"], {"robust_scale": 4.0, "starts": "one"}),
    ([], {"far_scale": 4.0}),
    (["--far-scale", "5"], {"far_scale": 5.0}),
    (["--far-scale", "0"], {"far_scale": None}),
    (["--no-guard"], {"far_scale": None}),
    ([], {"tighten": "auto"}),
    (["--tighten", "3"], {"tighten": 3.0}),
    (["--tighten", "off"], {"tighten": None}),
    (["--no-guard"], {"tighten": None}),
])
def test_annotate_job_carries_the_guard_options(data, tmp_path, extra, guard):
    # the workers run annotate() with job["guard"]: the upright prior, the root-hold rule, the
    # robust scale (kept by --no-guard, like the depth prior), the far pass's scale and the
    # tightened pass's factor (both off with --no-guard) must reach them as they reach `cliff annotate` without --ray/--dask
    args = build_parser().parse_args(annotate_argv(data, tmp_path / "p.npz", "--dask", "x", *extra))
    job, _, _ = annotate_job(args)
    assert {k: job["guard"].get(k, "absent") for k in guard} == guard


def test_dask_killed_worker_is_replaced_and_its_shard_retried(data, single, dask_client, tmp_path):
    args = build_parser().parse_args(
        annotate_argv(data, tmp_path / "pgt.npz", "--dask", "x", "--shard-size", "2"))
    job, shards, out = annotate_job(args)
    marker = tmp_path / "killed"
    job["_crash_once"] = [str(marker), 2]       # the worker process running shard 2 dies
    s = run_job(job, shards, out, DaskEngine(dask_client))
    assert marker.exists()
    assert s["failed"] == 0 and s["ran"] == len(shards)
    assert_same_npz(single["annotate"], out)    # every person exactly once, in order


def test_interrupted_run_resumes_skipping_finished_shards(data, single, dask_client, tmp_path):
    args = build_parser().parse_args(
        predict_argv(data, tmp_path / "pred.npz", "--dask", "x", "--shard-size", "2"))
    job, shards, out = predict_job(args)
    with pytest.raises(KeyboardInterrupt):      # Ctrl-C after the first shard came back
        run_job(job, shards, out, DaskEngine(dask_client), _stop_after=1)
    assert not os.path.exists(out)              # no half result
    first = manifest(tmp_path / "pred.npz")
    done = [s["index"] for s in first["shards"] if s["status"] == "done"]
    assert len(done) == 1
    s = run_job(job, shards, out, DaskEngine(dask_client))
    assert (s["skipped"], s["ran"]) == (1, len(shards) - 1)
    second = manifest(tmp_path / "pred.npz")
    assert second["shards"][done[0]]["attempts"] == 1   # not run again
    assert_same_npz(single["predict"], out)


# ---- engine-independent ------------------------------------------------------------------

def test_a_part_file_not_in_the_manifest_is_redone(data, single, tmp_path):
    """A worker that wrote its part but whose result never reached the manifest (driver
    killed): the shard is not taken as done, it runs again and overwrites the part."""
    args = build_parser().parse_args(
        predict_argv(data, tmp_path / "pred.npz", "--shard-size", "3"))
    job, shards, out = predict_job(args)
    parts = tmp_path / "pred.npz.parts"
    parts.mkdir()
    (parts / "part-000001.npz").write_bytes(b"stale")
    s = run_job(job, shards, out, LocalEngine())
    assert s["ran"] == len(shards)
    assert_same_npz(single["predict"], out)


def test_a_manifest_of_another_job_is_refused(data, tmp_path):
    args = build_parser().parse_args(
        predict_argv(data, tmp_path / "pred.npz", "--shard-size", "3"))
    job, shards, out = predict_job(args)
    run_job(job, shards[:1], out, LocalEngine())
    with pytest.raises(ValueError, match="manifest of another job"):
        run_job(job, shards, out, LocalEngine())


def test_refine_finetune_is_refused_with_an_engine(data, tmp_path, capsys):
    argv = annotate_argv(data, tmp_path / "x.npz", "--refine", "finetune", "--dask", "tcp://nowhere:1")
    assert main(argv) == 2
    assert "does not shard" in capsys.readouterr().err


def test_rerunning_a_finished_job_runs_nothing_and_writes_the_same_file(data, single, tmp_path):
    args = build_parser().parse_args(
        predict_argv(data, tmp_path / "pred.npz", "--shard-size", "4"))
    job, shards, out = predict_job(args)
    run_job(job, shards, out, LocalEngine())
    shutil.copy(out, tmp_path / "first.npz")
    s = run_job(job, shards, out, LocalEngine())
    assert (s["ran"], s["skipped"]) == (0, len(shards))
    assert_same_npz(tmp_path / "first.npz", out)


def test_videos_by_frame_range_and_an_index_file_merge_to_the_single_process_file(data, tmp_path):
    """A 5-frame video cut in ranges of 2 frames (3 shards) and a dataset index file listing
    images: the merged file equals the single-process one over the same inputs."""
    import imageio.v3 as iio

    rng = np.random.default_rng(3)
    video = tmp_path / "clip.mp4"
    iio.imwrite(video, rng.integers(0, 256, (5, 96, 128, 3), dtype=np.uint8), fps=5, codec="libx264")
    index = tmp_path / "index.txt"
    index.write_text("# two images\n" + f"{data['imgs'] / 'im1.jpg'}\n" +
                     f"{data['imgs'] / 'im0.jpg'}\n")
    boxes = json.loads(data["boxes"].read_text())
    boxes.update({f"{video}:{i:06d}": [[10.0, 5.0, 90.0, 95.0]] for i in range(5)})
    (tmp_path / "b.json").write_text(json.dumps(boxes))
    common = ["predict", str(index), str(video), "--ckpt", data["ckpt"], "--smpl", data["smpl"],
              "--boxes", str(tmp_path / "b.json"), "--quiet"]
    args = build_parser().parse_args(common + ["-o", str(tmp_path / "dist.npz"), "--shard-size", "2"])
    job, shards, out = predict_job(args)
    assert [s[0][0] for s in shards] == ["image", "video", "video", "video"]
    assert [s[0][2:] for s in shards[1:]] == [[0, 2], [2, 4], [4, None]]
    run_job(job, shards, out, LocalEngine())
    # the single-process reference over the same inputs: the index's images, then the video
    ref = tmp_path / "single.npz"
    assert main(["predict", str(data["imgs"] / "im1.jpg"), str(data["imgs"] / "im0.jpg"), str(video),
                 *common[3:], "-o", str(ref)]) == 0
    assert_same_npz(ref, out)
    assert list(np.load(out)["imgname"][2:]) == [f"{video}:{i:06d}" for i in range(5)]
