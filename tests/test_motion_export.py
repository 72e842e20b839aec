"""glTF and BVH files replayed by independent readers (pygltflib, bvh from PyPI) and NumPy.

Each .glb is read with pygltflib; the mesh is re-skinned in NumPy from the file's own data
(accessors, skin, node hierarchy, animation samplers) at several frames and compared with
cliff.SMPL's output. Each .bvh is parsed with the `bvh` package and forward kinematics from its
channels is compared with cliff.SMPL's 24 joints.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

import cliff
from cliff import _standin
from cliff.io.gltf import CAMERA_TO_GLTF
from cliff.motion import export_bvh, export_glb

pygltflib = pytest.importorskip("pygltflib")
bvh = pytest.importorskip("bvh")
Rotation = pytest.importorskip("scipy.spatial.transform").Rotation

C = CAMERA_TO_GLTF


@pytest.fixture(scope="module")
def arrays():
    return _standin.procedural_body()


@pytest.fixture(scope="module")
def model(arrays):
    return cliff.SMPL(arrays)


def _motion(rng, T=12, frames=None):
    """A smooth random motion of one body: (T,72) pose, (T,3) translation, (T,10) betas."""
    t = np.arange(T)[:, None]
    pose = 0.3 * np.sin(0.3 * t + rng.uniform(0, 6, 72)) * rng.uniform(0.2, 1, 72)
    pose[:, :3] = [np.pi, 0, 0] + 0.2 * np.sin(0.2 * t)
    transl = np.c_[0.1 * np.sin(0.2 * t), 0.1 + 0 * t, 4 + 0.05 * t]
    betas = np.tile(rng.normal(0, 1, 10), (T, 1))
    return pose, transl, betas


@pytest.fixture(scope="module")
def results():
    """Two tracks: track 3 over frames 0..11 with frame 5 missed, track 7 over frames 4..9."""
    rng = np.random.default_rng(0)
    rows = {k: [] for k in ("pose", "global_t", "shape", "track_id", "frame")}
    for tid, frames in ((3, [f for f in range(12) if f != 5]), (7, list(range(4, 10)))):
        pose, transl, betas = _motion(rng, len(frames))
        rows["pose"].append(pose)
        rows["global_t"].append(transl)
        rows["shape"].append(betas)
        rows["track_id"].append(np.full(len(frames), tid))
        rows["frame"].append(np.array(frames))
    return {k: np.concatenate(v) for k, v in rows.items()}


def _smpl_vertices(model, results, tid, lbs_only=False):
    """cliff.SMPL's vertices (T, V, 3) and joints (T, 24, 3) of a track, camera frame."""
    m = results["track_id"] == tid
    order = np.argsort(results["frame"][m])
    pose = results["pose"][m][order]
    betas = np.median(results["shape"][m], axis=0)
    out = model(pose=pose, betas=np.tile(betas, (len(pose), 1)), transl=results["global_t"][m][order])
    return results["frame"][m][order], out["vertices"], out["joints"][:, :24]


# -- an independent glTF replay -------------------------------------------------------------

def _accessor(g, blob, i):
    a = g.accessors[i]
    v = g.bufferViews[a.bufferView]
    dt = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[a.componentType]
    n = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[a.type]
    start = (v.byteOffset or 0) + (a.byteOffset or 0)
    data = np.frombuffer(blob, dt, a.count * n, start)
    return data.reshape(a.count, n) if n > 1 else data


def _quat_xyzw_to_R(q):
    return Rotation.from_quat(q).as_matrix()          # scipy: (x, y, z, w)


def _sample(times, values, t, quat=False):
    """glTF LINEAR sampling (slerp for rotations), clamped at the ends."""
    if t <= times[0]:
        return values[0]
    if t >= times[-1]:
        return values[-1]
    k = int(np.searchsorted(times, t, side="right")) - 1
    a = (t - times[k]) / (times[k + 1] - times[k])
    if quat:
        from scipy.spatial.transform import Slerp
        return Slerp([0, 1], Rotation.from_quat(values[k:k + 2]))(a).as_quat()
    return (1 - a) * values[k] + a * values[k + 1]


def _replay(g, blob, mesh_node, t):
    """Skinned positions of a mesh node at time t, from the file alone."""
    node = g.nodes[mesh_node]
    skin = g.skins[node.skin]
    prim = g.meshes[node.mesh].primitives[0]
    pos = _accessor(g, blob, prim.attributes.POSITION).astype(np.float64)
    jts = _accessor(g, blob, prim.attributes.JOINTS_0).astype(np.int64)
    wts = _accessor(g, blob, prim.attributes.WEIGHTS_0).astype(np.float64)
    ibm = _accessor(g, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    if prim.targets:
        w = np.array(g.meshes[node.mesh].weights, np.float64)
        for ch in g.animations[0].channels:
            if ch.target.node == mesh_node and ch.target.path == "weights":
                s = g.animations[0].samplers[ch.sampler]
                tt = _accessor(g, blob, s.input)
                vals = _accessor(g, blob, s.output).reshape(len(tt), -1)
                w = _sample(tt, vals, t)
        for k, tgt in enumerate(prim.targets):
            pos = pos + w[k] * _accessor(g, blob, tgt["POSITION"])
    local = {}
    for j in skin.joints:
        n = g.nodes[j]
        T, R = np.array(n.translation or [0, 0, 0], float), _quat_xyzw_to_R(n.rotation or [0, 0, 0, 1])
        local[j] = [T, R]
    for ch in g.animations[0].channels:
        if ch.target.node in local:
            s = g.animations[0].samplers[ch.sampler]
            tt = _accessor(g, blob, s.input)
            vals = _accessor(g, blob, s.output).astype(np.float64)
            if ch.target.path == "rotation":
                local[ch.target.node][1] = _quat_xyzw_to_R(_sample(tt, vals, t, quat=True))
            elif ch.target.path == "translation":
                local[ch.target.node][0] = _sample(tt, vals, t)
    parent = {c: i for i, n in enumerate(g.nodes) for c in (n.children or [])}
    glob = {}

    def world(j):
        if j not in glob:
            M = np.eye(4)
            M[:3, :3], M[:3, 3] = local[j][1], local[j][0]
            glob[j] = world(parent[j]) @ M if j in parent else M
        return glob[j]

    mats = np.stack([world(j) @ ibm[i] for i, j in enumerate(skin.joints)])
    ph = np.c_[pos, np.ones(len(pos))]
    out = np.zeros((len(pos), 3))
    for k in range(4):
        out += wts[:, k:k + 1] * np.einsum("vij,vj->vi", mats[jts[:, k]], ph)[:, :3]
    return out


def _load(path):
    g = pygltflib.GLTF2().load(str(path))
    return g, g.binary_blob()


def _check_glb_structure(path):
    """Binary header, chunk alignment and lengths, accessor bounds within their views."""
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A and jlen % 4 == 0
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert btype == 0x004E4942 and blen % 4 == 0 and 28 + jlen + blen == len(data)
    g = pygltflib.GLTF2().load(str(path))
    assert g.asset.version == "2.0"
    assert g.buffers[0].byteLength <= blen
    sizes = {5126: 4, 5125: 4, 5123: 2, 5121: 1}
    ncomp = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}
    for v in g.bufferViews:
        assert v.byteOffset % 4 == 0 and v.byteOffset + v.byteLength <= g.buffers[0].byteLength
    for a in g.accessors:
        v = g.bufferViews[a.bufferView]
        assert (a.byteOffset or 0) + a.count * ncomp[a.type] * sizes[a.componentType] <= v.byteLength
    return g


# -- glTF -------------------------------------------------------------------------------------

def test_glb_files_are_valid_gltf2_binaries(results, arrays, tmp_path):
    paths = export_glb(results, arrays, tmp_path / "clip.glb")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["clip_track3.glb", "clip_track7.glb"]
    for p in paths:
        g = _check_glb_structure(tmp_path / p.rsplit("/", 1)[1])
        assert len(g.skins[0].joints) == 24
        prim = g.meshes[0].primitives[0]
        pos = g.accessors[prim.attributes.POSITION]
        assert pos.min is not None and pos.max is not None and pos.count == 6890


def test_glb_weights_are_at_most_4_per_vertex_and_sum_to_one(results, arrays, tmp_path):
    path = export_glb(results, arrays, tmp_path / "clip.glb")[0]
    g, blob = _load(path)
    w = _accessor(g, blob, g.meshes[0].primitives[0].attributes.WEIGHTS_0)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)


@pytest.mark.parametrize("tid", [3, 7])
def test_glb_replays_smpl_with_correctives_within_0_1_mm(results, arrays, model, tmp_path, tid):
    """With the corrective shapes as morph targets, re-skinning the file at every keyframe
    gives cliff.SMPL's vertices (turned into the glTF frame) to 1e-4 m."""
    path = [p for p in export_glb(results, arrays, tmp_path / "c.glb", correctives=True)
            if p.endswith(f"_track{tid}.glb")][0]
    g, blob = _load(path)
    mesh_node = [i for i, n in enumerate(g.nodes) if n.mesh is not None][0]
    frames, verts, _ = _smpl_vertices(model, results, tid)
    for k in (0, len(frames) // 2, len(frames) - 1):
        got = _replay(g, blob, mesh_node, frames[k] / 30.0)
        np.testing.assert_allclose(got, verts[k] @ C.T, atol=1e-4)


def test_glb_without_correctives_is_smpl_without_pose_blend_shapes(results, arrays, model, tmp_path):
    """Plain linear blend skinning equals SMPL posed with posedirs zeroed, to 1e-4 m; the gap
    to full SMPL is what the corrective shapes carry (reported, not bounded: stand-in body)."""
    path = export_glb(results, arrays, tmp_path / "c.glb")[0]
    g, blob = _load(path)
    no_pd = cliff.SMPL({**arrays, "posedirs": np.zeros_like(arrays["posedirs"])})
    frames, _, _ = _smpl_vertices(no_pd, results, 3)
    _, verts, _ = _smpl_vertices(no_pd, results, 3)
    mesh_node = [i for i, n in enumerate(g.nodes) if n.mesh is not None][0]
    for k in (0, 4, len(frames) - 1):
        np.testing.assert_allclose(_replay(g, blob, mesh_node, frames[k] / 30.0), verts[k] @ C.T, atol=1e-4)


def test_glb_keyframes_are_at_frame_over_fps(results, arrays, tmp_path):
    path = export_glb(results, arrays, tmp_path / "c.glb", fps=25.0)[0]
    g, blob = _load(path)
    s = g.animations[0].samplers[0]
    times = _accessor(g, blob, s.input)
    np.testing.assert_allclose(times, np.array([f for f in range(12) if f != 5]) / 25.0, rtol=1e-6)


def test_glb_scene_holds_every_track(results, arrays, model, tmp_path):
    (path,) = export_glb(results, arrays, tmp_path / "scene.glb", per="scene", correctives=True)
    g, blob = _load(path)
    assert len(g.skins) == 2
    mesh_nodes = [i for i, n in enumerate(g.nodes) if n.mesh is not None]
    frames, verts, _ = _smpl_vertices(model, results, 7)
    np.testing.assert_allclose(_replay(g, blob, mesh_nodes[1], frames[2] / 30.0), verts[2] @ C.T, atol=1e-4)


def test_glb_of_one_image_is_the_posed_meshes(arrays, model, tmp_path):
    rng = np.random.default_rng(1)
    pose, transl, betas = _motion(rng, 2)
    res = {"pose": pose, "global_t": transl, "shape": betas}
    (path,) = export_glb(res, arrays, tmp_path / "img.glb")
    g, blob = _load(path)
    want = model(pose=pose, betas=betas, transl=transl)["vertices"]
    assert not g.skins and len(g.meshes) == 2
    for i in range(2):
        got = _accessor(g, blob, g.meshes[i].primitives[0].attributes.POSITION)
        np.testing.assert_allclose(got, want[i] @ C.T, atol=1e-5)


def test_export_glb_rejects_bad_arguments(results, arrays, tmp_path):
    with pytest.raises(ValueError, match="per"):
        export_glb(results, arrays, tmp_path / "x.glb", per="person")
    with pytest.raises(TypeError, match="smpl"):
        export_glb(results, 3, tmp_path / "x.glb")
    with pytest.raises(ValueError, match="fps"):
        export_glb(results, arrays, tmp_path / "x.glb", fps=0)
    with pytest.raises(KeyError, match="pose"):
        export_glb({"shape": results["shape"]}, arrays, tmp_path / "x.glb")
    bad = dict(results, global_t=results["global_t"].copy())
    bad["global_t"][2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        export_glb(bad, arrays, tmp_path / "x.glb")
    with pytest.raises(ValueError, match="NaN"):
        export_bvh(bad, arrays, tmp_path / "x.bvh")
    assert not list(tmp_path.glob("x*"))              # nothing half-written


# -- BVH --------------------------------------------------------------------------------------

def _bvh_fk(path):
    """Joint positions (F, J, 3) from a BVH file read by the `bvh` package, forward kinematics
    with R = Rz @ Ry @ Rx in channel order."""
    with open(path) as fh:
        m = bvh.Bvh(fh.read())
    names = m.get_joints_names()
    F = m.nframes
    out = np.zeros((F, len(names), 3))
    for f in range(F):
        G, P = {}, {}
        for j, n in enumerate(names):
            chans = m.joint_channels(n)
            vals = dict(zip(chans, m.frame_joint_channels(f, n, chans)))
            R = Rotation.from_euler("ZYX", [vals["Zrotation"], vals["Yrotation"], vals["Xrotation"]],
                                    degrees=True).as_matrix()
            off = np.array(m.joint_offset(n), float)
            par = m.joint_parent(n)
            if par is None:
                P[n] = off + [vals["Xposition"], vals["Yposition"], vals["Zposition"]]
                G[n] = R
            else:
                P[n] = P[par.name] + G[par.name] @ off
                G[n] = G[par.name] @ R
            out[f, j] = P[n]
    return m, names, out


def test_bvh_forward_kinematics_reproduces_smpl_joints(results, arrays, model, tmp_path):
    paths = export_bvh(results, arrays, tmp_path / "clip.bvh", fps=25.0)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["clip_track3.bvh", "clip_track7.bvh"]
    for p, tid in zip(paths, (3, 7)):
        m, names, joints = _bvh_fk(p)
        assert sorted(names) == sorted(cliff.constants.JOINT_NAMES[:24])
        joints = joints[:, [names.index(n) for n in cliff.constants.JOINT_NAMES[:24]]]  # SMPL order
        assert float(m.frame_time) == pytest.approx(1 / 25.0)
        frames, _, want = _smpl_vertices(model, results, tid)
        assert m.nframes == frames[-1] - frames[0] + 1          # every frame of the span
        np.testing.assert_allclose(joints[frames - frames[0]], want @ C.T, atol=1e-4)


def test_bvh_missed_frame_repeats_the_last_seen_one(results, arrays, tmp_path):
    _, _, joints = _bvh_fk(export_bvh(results, arrays, tmp_path / "c.bvh")[0])
    np.testing.assert_array_equal(joints[5], joints[4])


def test_euler_zyx_roundtrip_including_gimbal_lock():
    from cliff.io.bvh import euler_zyx
    R = Rotation.random(500, random_state=0).as_matrix()
    lock = Rotation.from_euler("ZYX", [[0.3, np.pi / 2, 0.2], [1.0, -np.pi / 2, -0.4]]).as_matrix()
    R = np.concatenate([R, lock])
    zyx = euler_zyx(R)
    np.testing.assert_allclose(Rotation.from_euler("ZYX", zyx).as_matrix(), R, atol=1e-9)
