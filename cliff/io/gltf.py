"""glTF 2.0 binary (.glb) writer for SMPL bodies: skinned, animated people and posed meshes.

Frame and units (docs/motion.md): glTF is y-up, metres, right-handed. cliff's bodies live in the
OpenCV camera frame (x right, y down, z forward); the file's frame is that camera frame turned
180 degrees about x: glTF (x, y, z) = camera (x, -y, -z). A viewer's default camera (at the
origin looking down -z, y up) therefore sees the people as the video's camera saw them.

An animated person is:

* a mesh in SMPL's rest pose shaped by the person's β (positions = the body model with zero pose,
  in SMPL's model frame, which is already y-up), with JOINTS_0/WEIGHTS_0 from SMPL's skinning
  weights, at most 4 per vertex (the 4 largest, renormalised to sum 1);
* a skin over 24 joint nodes in SMPL's kinematic tree: node translation = shaped rest joint minus
  its parent's (the root: its rest position), inverse bind matrices = translation by minus the
  rest joint (the bind pose has no rotation);
* animation channels, keyframes at frame / fps seconds, LINEAR: the rotation of every joint
  (quaternion x, y, z, w; the root's turned into the glTF frame) and the root's translation
  (rest root + t_full, in the glTF frame).

glTF skinning is linear blend skinning: SMPL's pose-dependent corrective shapes (posedirs) are
left out unless ``correctives=True``, which stores them as 207 morph targets (17 MB per person)
animated with SMPL's pose features (the entries of R_j - I for joints 1..23).
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

__all__ = ["CAMERA_TO_GLTF", "write_glb", "write_glb_meshes", "skin_weights_top4"]

#: camera (OpenCV) -> glTF axes: 180 degrees about x.
CAMERA_TO_GLTF = np.diag([1.0, -1.0, -1.0])

_FLOAT, _UINT, _USHORT, _UBYTE = 5126, 5125, 5123, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def skin_weights_top4(weights) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) skinning weights -> the 4 largest per vertex: joints (V, 4) uint8/uint16 and
    weights (V, 4) float32 renormalised to sum 1 (glTF allows 4 influences per set)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] < 1:
        raise ValueError(f"weights: expected shape (V, J), got {w.shape}")
    k = min(4, w.shape[1])
    idx = np.argsort(-w, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(w, idx, 1)
    s = top.sum(1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError("weights: a vertex has no positive skinning weight")
    top = top / s
    if k < 4:
        idx = np.pad(idx, ((0, 0), (0, 4 - k)))
        top = np.pad(top, ((0, 0), (0, 4 - k)))
    top[top == 0] = 0.0
    idx = np.where(top > 0, idx, 0)
    jt = np.uint8 if w.shape[1] <= 256 else np.uint16
    return idx.astype(jt), top.astype(np.float32)


def _quat_xyzw(R: np.ndarray) -> np.ndarray:
    from ..motion.filters import rotmat_to_quat
    q = rotmat_to_quat(R)
    return np.concatenate([q[..., 1:], q[..., :1]], -1)


def _vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(ln > 0, n / np.where(ln > 0, ln, 1), np.array([0.0, 1.0, 0.0]))
    return n.astype(np.float32)


class _Builder:
    """Accumulates buffer views and accessors into one binary buffer (4-byte aligned)."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, data: np.ndarray, type_: str, *, target: Optional[int] = None,
            minmax: bool = False) -> int:
        data = np.ascontiguousarray(data)
        ctype = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint32): _UINT,
                 np.dtype(np.uint16): _USHORT, np.dtype(np.uint8): _UBYTE}[data.dtype]
        ncomp = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[type_]
        count = data.size // ncomp
        while len(self.blob) % 4:
            self.blob.append(0)
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        self.blob += data.tobytes()
        self.views.append(view)
        acc: dict[str, Any] = {"bufferView": len(self.views) - 1, "componentType": ctype,
                               "count": int(count), "type": type_}
        if minmax:
            flat = data.reshape(count, ncomp)
            conv = float if ctype == _FLOAT else int
            acc["min"] = [conv(x) for x in flat.min(0)]
            acc["max"] = [conv(x) for x in flat.max(0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _write(path: str, gltf: dict, blob: bytearray) -> None:
    gltf["buffers"] = [{"byteLength": len(blob)}]
    js = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    blob = bytes(blob) + b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(js) + 8 + len(blob)
    from .atomic import write_atomic

    def write(fh):
        fh.write(struct.pack("<4sII", b"glTF", 2, total))
        fh.write(struct.pack("<II", len(js), 0x4E4F534A))
        fh.write(js)
        fh.write(struct.pack("<II", len(blob), 0x004E4942))
        fh.write(blob)
    try:
        write_atomic(path, write)
    except OSError as exc:
        raise OSError(f"path: cannot write {os.fspath(path)!r}: {exc}") from exc


def _material(color: Sequence[float]) -> dict:
    return {"pbrMetallicRoughness": {"baseColorFactor": [*map(float, color[:3]), 1.0],
                                     "metallicFactor": 0.0, "roughnessFactor": 0.8},
            "doubleSided": False}


def write_glb(path: str | os.PathLike, smpl_arrays: Mapping, people: Sequence[Mapping], *,
              fps: float = 30.0, correctives: bool = False, names: Optional[Sequence[str]] = None,
              colors: Optional[np.ndarray] = None) -> None:
    """Write skinned, animated people into one .glb.

    smpl_arrays: the body model's arrays (``cliff.io.load_smpl``): weights, parents, faces,
        posedirs (for ``correctives``).
    people: per person a mapping with ``rest_vertices`` (V, 3) and ``rest_joints`` (24, 3) (the
        shaped body with zero pose, metres, SMPL frame), ``rotmat`` (T, 24, 3, 3) (root in the
        camera frame), ``transl`` (T, 3) metres camera frame (t_full), ``frames`` (T,) increasing
        frame indices.
    fps: frames per second of the video (keyframe time = frame / fps).
    """
    if not (isinstance(fps, (int, float, np.integer, np.floating)) and 0 < fps < np.inf):
        raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
    parents = np.asarray(smpl_arrays["parents"]).astype(np.int64).reshape(-1)
    faces = np.asarray(smpl_arrays["faces"]).astype(np.int64)
    nj = len(parents)
    jidx, jw = skin_weights_top4(_dense(smpl_arrays["weights"]))
    if colors is None:
        from ..render import default_colors
        colors = default_colors(max(1, len(people)))
    b = _Builder()
    nodes: list[dict] = []
    meshes, skins, materials, samplers, channels = [], [], [], [], []
    scene_nodes = []
    idx_dtype = np.uint16 if faces.max() < 65535 else np.uint32
    a_idx = b.add(faces.astype(idx_dtype).reshape(-1), "SCALAR", target=_ELEMENT_ARRAY_BUFFER)
    a_joints = b.add(jidx, "VEC4", target=_ARRAY_BUFFER)
    a_weights = b.add(jw, "VEC4", target=_ARRAY_BUFFER)
    morph_ids: list[int] = []
    if correctives:
        pd = _dense(smpl_arrays["posedirs"]).reshape(-1, 3, (nj - 1) * 9)
        morph_ids = [b.add(np.ascontiguousarray(pd[:, :, k]).astype(np.float32), "VEC3",
                           target=_ARRAY_BUFFER, minmax=True) for k in range(pd.shape[2])]
    C = CAMERA_TO_GLTF
    for p_i, person in enumerate(people):
        rv = np.asarray(person["rest_vertices"], np.float64)
        rj = np.asarray(person["rest_joints"], np.float64)
        R = np.asarray(person["rotmat"], np.float64)
        tr = np.asarray(person["transl"], np.float64)
        fr = np.asarray(person["frames"], np.float64).reshape(-1)
        T = len(R)
        if R.shape != (T, nj, 3, 3) or tr.shape != (T, 3) or fr.shape != (T,) or T < 1:
            raise ValueError(f"people[{p_i}]: expected rotmat (T, {nj}, 3, 3), transl (T, 3), "
                             f"frames (T,) with T >= 1, got {R.shape}, {tr.shape}, {fr.shape}")
        if T > 1 and not np.all(np.diff(fr) > 0):
            raise ValueError(f"people[{p_i}]: frames must be strictly increasing")
        if not all(np.isfinite(a).all() for a in (rv, rj, R, tr, fr)):
            raise ValueError(f"people[{p_i}]: contains NaN or infinite values")
        name = names[p_i] if names is not None else f"person_{p_i}"
        a_pos = b.add(rv.astype(np.float32), "VEC3", target=_ARRAY_BUFFER, minmax=True)
        a_nrm = b.add(_vertex_normals(rv, faces), "VEC3", target=_ARRAY_BUFFER)
        prim: dict[str, Any] = {"attributes": {"POSITION": a_pos, "NORMAL": a_nrm, "JOINTS_0": a_joints,
                                               "WEIGHTS_0": a_weights},
                                "indices": a_idx, "material": len(materials), "mode": 4}
        materials.append(_material(colors[p_i % len(colors)]))
        mesh: dict[str, Any] = {"name": name, "primitives": [prim]}
        if correctives:
            prim["targets"] = [{"POSITION": a} for a in morph_ids]
            mesh["weights"] = [0.0] * len(morph_ids)
        meshes.append(mesh)
        # joint nodes
        first = len(nodes)
        from ..constants import JOINT_NAMES
        for j in range(nj):
            t = rj[j] - (rj[parents[j]] if parents[j] >= 0 else 0.0)
            nodes.append({"name": f"{name}_{JOINT_NAMES[j] if j < len(JOINT_NAMES) else j}",
                          "translation": [float(x) for x in t]})
        for j in range(nj):
            kids = [first + c for c in range(nj) if parents[c] == j]
            if kids:
                nodes[first + j]["children"] = kids
        ibm = np.tile(np.eye(4), (nj, 1, 1))
        ibm[:, :3, 3] = -rj
        a_ibm = b.add(np.transpose(ibm, (0, 2, 1)).astype(np.float32).reshape(-1), "MAT4")  # column-major
        skins.append({"name": name, "joints": list(range(first, first + nj)),
                      "inverseBindMatrices": a_ibm, "skeleton": first})
        mesh_node = len(nodes)
        nodes.append({"name": f"{name}_mesh", "mesh": len(meshes) - 1, "skin": len(skins) - 1})
        scene_nodes += [first, mesh_node]
        # animation
        times = (fr / float(fps)).astype(np.float32)
        a_t = b.add(times, "SCALAR", minmax=True)
        Rg = R.copy()
        Rg[:, 0] = C @ R[:, 0]
        q = _quat_xyzw(Rg)                                       # (T, nj, 4)
        from ..motion.filters import quat_continuous
        q = quat_continuous(q, axis=0)                           # shortest-path interpolation
        for j in range(nj):
            a_q = b.add(q[:, j].astype(np.float32), "VEC4")
            samplers.append({"input": a_t, "output": a_q, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": first + j, "path": "rotation"}})
        root_t = (tr + rj[0]) @ C.T
        a_rt = b.add(root_t.astype(np.float32), "VEC3")
        samplers.append({"input": a_t, "output": a_rt, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": first, "path": "translation"}})
        # first frame as the nodes' default pose, so a viewer without animation shows it posed
        for j in range(nj):
            nodes[first + j]["rotation"] = [float(x) for x in q[0, j]]
        nodes[first]["translation"] = [float(x) for x in root_t[0]]
        if correctives:
            feats = (R[:, 1:] - np.eye(3)).reshape(T, -1)           # SMPL's pose feature
            a_w = b.add(feats.astype(np.float32).reshape(-1), "SCALAR")
            samplers.append({"input": a_t, "output": a_w, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": mesh_node, "path": "weights"}})
            meshes[-1]["weights"] = [float(x) for x in feats[0]]
    gltf: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "cliff (cliff-hps)"},
        "scene": 0, "scenes": [{"nodes": scene_nodes}], "nodes": nodes, "meshes": meshes,
        "materials": materials, "skins": skins, "accessors": b.accessors, "bufferViews": b.views,
    }
    if channels:
        gltf["animations"] = [{"name": "motion", "samplers": samplers, "channels": channels}]
    _write(os.fspath(path), gltf, b.blob)


def write_glb_meshes(path: str | os.PathLike, vertices, faces, *, colors=None) -> None:
    """Write posed meshes (one image's people) into one .glb: ``vertices`` (P, V, 3) or (V, 3)
    metres in the camera frame (e.g. ``Estimator.run(...)["vertices"]``), ``faces`` (F, 3).
    Stored in the glTF frame (camera turned 180 degrees about x), no skin, no animation."""
    v = np.asarray(vertices, np.float64)
    if v.ndim == 2:
        v = v[None]
    if v.ndim != 3 or v.shape[2] != 3:
        raise ValueError(f"vertices: expected shape (P, V, 3) or (V, 3) metres, got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vertices: contains NaN or infinite values")
    f = np.asarray(faces).astype(np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and (f.min() < 0 or f.max() >= v.shape[1])):
        raise ValueError(f"faces: expected (F, 3) indices into {v.shape[1]} vertices")
    if colors is None:
        from ..render import default_colors
        colors = default_colors(max(1, len(v)))
    b = _Builder()
    a_idx = b.add(f.astype(np.uint32 if f.max(initial=0) >= 65535 else np.uint16).reshape(-1), "SCALAR",
                  target=_ELEMENT_ARRAY_BUFFER)
    nodes, meshes, materials = [], [], []
    for i, vi in enumerate(v):
        g = vi @ CAMERA_TO_GLTF.T
        a_pos = b.add(g.astype(np.float32), "VEC3", target=_ARRAY_BUFFER, minmax=True)
        a_nrm = b.add(_vertex_normals(g, f), "VEC3", target=_ARRAY_BUFFER)
        materials.append(_material(colors[i % len(colors)]))
        meshes.append({"name": f"person_{i}", "primitives": [{"attributes": {"POSITION": a_pos, "NORMAL": a_nrm},
                                                              "indices": a_idx, "material": i, "mode": 4}]})
        nodes.append({"name": f"person_{i}", "mesh": i})
    gltf = {"asset": {"version": "2.0", "generator": "cliff (cliff-hps)"}, "scene": 0,
            "scenes": [{"nodes": list(range(len(nodes)))}], "nodes": nodes, "meshes": meshes,
            "materials": materials, "accessors": b.accessors, "bufferViews": b.views}
    _write(os.fspath(path), gltf, b.blob)


def _dense(x) -> np.ndarray:
    if not isinstance(x, np.ndarray) and hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64)
