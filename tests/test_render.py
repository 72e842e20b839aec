"""cliff.render: coverage (fill rule), silhouettes, occlusion, shading, side view, errors.

References are written here independently in float64 NumPy: a point-in-triangle test with the
documented top-left rule for pixel centres (x + 0.5, y + 0.5), and ray casting (Moller-Trumbore)
through pixel centres for silhouettes and depth."""
import threading

import numpy as np
import pytest

import cliff

WHITE = np.array([1.0, 1.0, 1.0], np.float32)


# ---------------------------------------------------------------- independent references

def ref_coverage(tri_uv, h, w):
    """Pixels (h, w) whose centre is inside the screen triangle (3, 2), top-left rule:
    a centre exactly on an edge counts only for top edges (horizontal, interior below, y down)
    and left edges (interior to the right)."""
    a, b, c = (np.asarray(p, np.float64) for p in tri_uv)
    if (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) < 0:
        b, c = c, b  # interior on the positive side of every edge below
    ys, xs = np.mgrid[0:h, 0:w]
    px, py = xs + 0.5, ys + 0.5
    inside = np.ones((h, w), bool)
    for s, t in ((a, b), (b, c), (c, a)):
        e = (t[0] - s[0]) * (py - s[1]) - (t[1] - s[1]) * (px - s[0])
        top = t[1] == s[1] and t[0] > s[0]
        left = t[1] < s[1]
        inside &= (e > 0) | ((e == 0) & (top or left))
    return inside


def ray_cast(verts, faces, fx, fy, cx, cy, h, w):
    """Nearest hit per pixel centre: (depth z, mesh index, min barycentric) with z = inf and
    index -1 where no triangle with z > 0 is hit. verts (P, V, 3)."""
    ys, xs = np.mgrid[0:h, 0:w]
    d = np.stack([(xs + 0.5 - cx) / fx, (ys + 0.5 - cy) / fy, np.ones((h, w))], -1).reshape(-1, 3)
    best = np.full(len(d), np.inf)
    who = np.full(len(d), -1)
    margin = np.full(len(d), np.inf)
    for m, v in enumerate(np.asarray(verts, np.float64)):
        for f in faces:
            p0, p1, p2 = v[f]
            e1, e2 = p1 - p0, p2 - p0
            q = np.cross(d, e2)
            det = q @ e1
            ok = np.abs(det) > 1e-15
            inv = np.where(ok, 1.0 / np.where(ok, det, 1), 0)
            s = -p0
            bu = (q @ s) * inv
            r = np.cross(s, e1)
            bv = (r @ d.T) * inv
            t = (r @ e2) * inv  # = z, since d has z = 1
            bmin = np.minimum(np.minimum(bu, bv), 1 - bu - bv)
            hit = ok & (bmin >= 0) & (t > 0)
            closer = hit & (t < best)
            best[closer], who[closer] = t[closer], m
            margin[hit] = np.minimum(margin[hit], np.abs(bmin[hit]))
            margin[~hit & ok] = np.minimum(margin[~hit & ok], np.abs(bmin[~hit & ok]))
    return best.reshape(h, w), who.reshape(h, w), margin.reshape(h, w)


def screen_distance_to_edges(verts, faces, fx, fy, cx, cy, h, w):
    """Smallest distance (pixels) from each pixel centre to any projected triangle edge, and
    the silhouette (centre strictly inside some projected triangle). verts (V, 3), z > 0."""
    v = np.asarray(verts, np.float64)
    uv = np.stack([fx * v[:, 0] / v[:, 2] + cx, fy * v[:, 1] / v[:, 2] + cy], -1)
    inside = np.zeros((h, w), bool)
    dist = np.full((h, w), np.inf)
    for f in faces:
        t = uv[f]
        x0, y0 = np.maximum(np.floor(t.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(t.max(0)).astype(int) + 2, [w, h])
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        p = np.stack([xs + 0.5, ys + 0.5], -1)
        signs, dmin = [], np.full(xs.shape, np.inf)
        for s, e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            ed = e - s
            cr = ed[0] * (p[..., 1] - s[1]) - ed[1] * (p[..., 0] - s[0])
            signs.append(cr)
            # distance to the segment
            k = np.clip(((p - s) @ ed) / max(ed @ ed, 1e-300), 0, 1)
            dmin = np.minimum(dmin, np.linalg.norm(p - (s + k[..., None] * ed), axis=-1))
        sg = np.stack(signs)
        inside[y0:y1, x0:x1] |= np.all(sg > 0, 0) | np.all(sg < 0, 0)
        dist[y0:y1, x0:x1] = np.minimum(dist[y0:y1, x0:x1], dmin)
    return inside, dist


def blob(rings=16, segments=20, height=1.0, width=0.35, depth=4.0, x=0.0, y=0.0):
    """Closed UV-sphere blob (rings * segments + 2 vertices) in the camera frame."""
    th = np.pi * np.arange(1, rings + 1) / (rings + 1)
    ph = 2 * np.pi * np.arange(segments) / segments
    th, ph = np.meshgrid(th, ph, indexing="ij")
    s = np.stack([np.sin(th) * np.cos(ph), np.cos(th), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    s = np.concatenate([[[0, 1, 0]], s, [[0, -1, 0]]])
    v = s * [width / 2, height / 2, width / 3] + [x, y, depth]
    ring = lambda r: 1 + r * segments + np.arange(segments)
    nxt = lambda r: 1 + r * segments + (np.arange(segments) + 1) % segments
    faces = [np.stack([np.zeros(segments, int), nxt(0), ring(0)], -1)]
    for r in range(rings - 1):
        a, b, c, d = ring(r), nxt(r), ring(r + 1), nxt(r + 1)
        faces += [np.stack([a, b, d], -1), np.stack([a, d, c], -1)]
    last = rings * segments + 1
    faces.append(np.stack([np.full(segments, last), ring(rings - 1), nxt(rings - 1)], -1))
    return v.astype(np.float32), np.concatenate(faces)


def quad(center, size, normal_angle_deg=0.0):
    """Square (4 vertices, 2 faces) of side `size` centred at `center`, turned about y."""
    a = np.radians(normal_angle_deg)
    ex = np.array([np.cos(a), 0, np.sin(a)]) * size / 2
    ey = np.array([0, 1, 0]) * size / 2
    c = np.asarray(center, np.float64)
    v = np.stack([c - ex - ey, c + ex - ey, c + ex + ey, c - ex + ey]).astype(np.float32)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def draw_mask(h, w, verts, faces, focal, pp, **kw):
    out = cliff.render(np.zeros((h, w, 3), np.uint8), verts, faces, focal, pp,
                       colors=WHITE, alpha=1.0, **kw)
    return out.max(-1) > 0


# ---------------------------------------------------------------- coverage and fill rule

def test_known_triangle_exact_pixel_set():
    # Screen triangle (10.5, 5.5), (30.5, 5.5), (10.5, 25.5) (f = 1, z = 1, pp = 0): its top and
    # left edges pass through pixel centres and are included, the hypotenuse u + v = 36 also
    # passes through centres and is excluded: row y covers x = 10 .. 34 - y, 25 - y pixels,
    # 20 + 19 + ... + 1 = 210 in all.
    tri = np.array([[10.5, 5.5, 1], [30.5, 5.5, 1], [10.5, 25.5, 1]], np.float32)
    got = draw_mask(40, 40, tri, [[0, 1, 2]], 1.0, (0, 0))
    expected = np.zeros((40, 40), bool)
    for y in range(5, 25):
        expected[y, 10:35 - y] = True
    assert expected.sum() == 210
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, ref_coverage(tri[:, :2], 40, 40))
    # the winding does not matter
    np.testing.assert_array_equal(draw_mask(40, 40, tri[::-1], [[0, 1, 2]], 1.0, (0, 0)), expected)


def test_random_triangles_match_reference_exactly():
    # vertices on the 1/256 pixel grid the rasterizer snaps to, so the reference is exact;
    # half of them on pixel-centre lattices to exercise the tie rule
    rng = np.random.default_rng(1)
    for i in range(150):
        if i % 2:
            uv = rng.integers(-5, 60, (3, 2)) + 0.5
        else:
            uv = rng.integers(-5 * 256, 60 * 256, (3, 2)) / 256.0
        tri = np.concatenate([uv, np.ones((3, 1))], 1).astype(np.float32)
        got = draw_mask(48, 52, tri, [[0, 1, 2]], 1.0, (0, 0))
        np.testing.assert_array_equal(got, ref_coverage(uv, 48, 52), err_msg=f"triangle {uv}")


def test_shared_edges_cover_each_pixel_exactly_once():
    # a fan of triangles around a centre on a pixel corner lattice point: every pixel centre of
    # the union is drawn by exactly one triangle, none twice, no gaps
    c = np.array([20.5, 20.5])
    ring = np.array([[5.5, 5.5], [20.5, 3.5], [36.5, 6.5], [37.5, 20.5], [35.5, 35.5],
                     [20.5, 37.5], [4.5, 36.5], [3.5, 20.5]])
    count = np.zeros((42, 42), int)
    union = np.zeros((42, 42), bool)
    for k in range(len(ring)):
        uv = np.stack([c, ring[k], ring[(k + 1) % len(ring)]])
        tri = np.concatenate([uv, np.ones((3, 1))], 1).astype(np.float32)
        count += draw_mask(42, 42, tri, [[0, 1, 2]], 1.0, (0, 0))
        union |= ref_coverage(uv, 42, 42)
    assert count.max() == 1
    np.testing.assert_array_equal(count == 1, union)


def test_pixels_change_only_inside_silhouette():
    # a closed blob partly outside the image, over random noise: changed pixels lie inside the
    # projected silhouette up to edge pixels (centres within 1/100 px of an edge, where vertex
    # snapping to 1/256 px may decide), and every centre well inside is drawn
    h, w, f, pp = 90, 120, 150.0, (60, 45)
    v, faces = blob(x=1.3, y=0.2, depth=3.0, rings=10, segments=12, width=0.8, height=1.5)
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = cliff.render(img, v, faces, f, pp, colors=[0.2, 0.9, 0.4], alpha=0.8)
    changed = np.any(out != img, -1)
    inside, dist = screen_distance_to_edges(v, faces, f, f, pp[0], pp[1], h, w)
    edge = dist < 0.01
    assert not np.any(changed & ~inside & ~edge)
    assert not np.any(inside & ~edge & ~changed)
    assert changed.sum() > 300 and not changed[:, :40].any()  # it is partly clipped at the right
    assert changed[:, -1].any()


def test_silhouette_of_full_mesh_matches_ray_casting():
    # independent of projection: ray casting through pixel centres (Moller-Trumbore)
    h, w, f, pp = 60, 80, 120.0, (40, 30)
    v, faces = blob(rings=8, segments=10, depth=3.0)
    got = draw_mask(h, w, v, faces, f, pp)
    depth, who, margin = ray_cast(v[None], faces, f, f, pp[0], pp[1], h, w)
    hit = who >= 0
    unsure = margin < 1e-6
    assert hit.sum() > 200
    assert not np.any((got != hit) & ~unsure)


def test_triangle_crossing_the_camera_plane_is_clipped():
    # one vertex behind the camera: only the part with z > 0 is drawn (ray casting reference)
    h, w, f, pp = 50, 70, 60.0, (35, 25)
    tri = np.array([[-1.0, -0.5, 2.0], [1.0, -0.3, 2.0], [0.2, 0.6, -1.0]], np.float32)
    got = draw_mask(h, w, tri, [[0, 1, 2]], f, pp)
    _, who, margin = ray_cast(tri[None], [[0, 1, 2]], f, f, pp[0], pp[1], h, w)
    assert got.sum() > 100 and got[-1].any()  # reaches the bottom border
    assert not np.any((got != (who >= 0)) & (margin > 1e-6))
    # entirely behind the camera: nothing
    behind = tri.copy()
    behind[:, 2] = -np.abs(behind[:, 2])
    assert not draw_mask(h, w, behind, [[0, 1, 2]], f, pp).any()


# ---------------------------------------------------------------- depth order

@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_person_wins_where_two_overlap(order):
    h, w, f, pp = 60, 80, 100.0, (40, 30)
    near, faces = blob(depth=3.0, x=-0.05, rings=10, segments=12)
    far, _ = blob(depth=4.0, x=0.1, rings=10, segments=12)
    meshes = np.stack([near, far])[list(order)]
    colors = np.array([[1, 0, 0], [0, 0, 1]], np.float32)[list(order)]  # near red, far blue
    out = cliff.render(np.zeros((h, w, 3), np.uint8), meshes, faces, f, pp, colors=colors, alpha=1.0)
    m_near = draw_mask(h, w, near, faces, f, pp)
    m_far = draw_mask(h, w, far, faces, f, pp)
    both = m_near & m_far
    assert both.sum() > 50
    assert np.all(out[both][:, 0] > 0) and np.all(out[both][:, 2] == 0)  # red only
    only_far = m_far & ~m_near
    assert np.all(out[only_far][:, 2] > 0) and np.all(out[only_far][:, 0] == 0)


def test_interpenetrating_surfaces_resolved_per_pixel():
    # two crossing planes: which is nearer changes along x; a painter's algorithm cannot do this
    h, w, f, pp = 40, 60, 80.0, (30, 20)
    a, faces = quad((0, 0, 4.0), 2.0, normal_angle_deg=30)
    b, _ = quad((0, 0, 4.0), 2.0, normal_angle_deg=-30)
    colors = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
    out = cliff.render(np.zeros((h, w, 3), np.uint8), np.stack([a, b]), faces, f, pp,
                       colors=colors, alpha=1.0)
    depth, who, margin = ray_cast(np.stack([a, b]), faces, f, f, pp[0], pp[1], h, w)
    za, _, _ = ray_cast(a[None], faces, f, f, pp[0], pp[1], h, w)
    zb, _, _ = ray_cast(b[None], faces, f, f, pp[0], pp[1], h, w)
    with np.errstate(invalid="ignore"):  # inf - inf off the quads
        sure = (margin > 1e-6) & ~(np.abs(za - zb) <= 1e-3)
    red = out[..., 0] > 0
    blue = out[..., 2] > 0
    assert np.all(red[sure & (who == 0)]) and not np.any(blue[sure & (who == 0)])
    assert np.all(blue[sure & (who == 1)]) and not np.any(red[sure & (who == 1)])
    assert (sure & (who == 0)).sum() > 100 and (sure & (who == 1)).sum() > 100


# ---------------------------------------------------------------- shading and blending

def test_lambert_facing_brighter_than_grazing_with_expected_values():
    # intensity = 0.3 + 0.7 |cos| of the angle between the normal and the optical axis
    h, w, f, pp = 40, 40, 200.0, (20, 20)
    img = np.zeros((h, w, 3), np.uint8)
    for angle in (0.0, 60.0, 80.0):
        v, faces = quad((0, 0, 5.0), 0.4, normal_angle_deg=angle)
        out = cliff.render(img, v, faces, f, pp, colors=WHITE, alpha=1.0)
        expected = round(255 * (0.3 + 0.7 * np.cos(np.radians(angle))))
        assert abs(int(out[20, 20, 0]) - expected) <= 1, (angle, out[20, 20])
    v0, faces = quad((0, 0, 5.0), 0.4, 0.0)
    v80, _ = quad((0, 0, 5.0), 0.4, 80.0)
    bright = cliff.render(img, v0, faces, f, pp, colors=WHITE, alpha=1.0)[20, 20, 0]
    dim = cliff.render(img, v80, faces, f, pp, colors=WHITE, alpha=1.0)[20, 20, 0]
    assert bright > dim + 100


def test_smooth_shading_is_perspective_correct_interpolation_of_vertex_lambert():
    # a pyramid pointing at the camera: vertex normals = normalized sums of the area-weighted
    # normals of the adjacent faces, vertex intensity 0.3 + 0.7 |n_z|, and each pixel shows the
    # intensities interpolated with the 3D barycentrics of the ray hit (perspective-correct)
    h, w, f, pp = 64, 64, 60.0, (32, 32)
    v = np.array([[0, 0, 2.0], [-1, -1, 3.0], [1, -1, 3.0], [1, 1, 3.5], [-1, 1, 3.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 1]])
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    inten = 0.3 + 0.7 * np.abs(vn[:, 2]) / np.linalg.norm(vn, axis=1)
    out = cliff.render(np.zeros((h, w, 3), np.uint8), v.astype(np.float32), faces, f, pp,
                       colors=WHITE, alpha=1.0)[..., 0].astype(int)
    want = np.full((h, w), -1.0)
    affine = np.full((h, w), -1.0)
    uv = np.stack([f * v[:, 0] / v[:, 2] + pp[0], f * v[:, 1] / v[:, 2] + pp[1]], -1)
    for yy in range(h):
        for xx in range(w):
            d = np.array([(xx + 0.5 - pp[0]) / f, (yy + 0.5 - pp[1]) / f, 1.0])
            for tri in faces:
                p0, p1, p2 = v[tri]
                m = np.stack([p1 - p0, p2 - p0, -d], 1)
                if abs(np.linalg.det(m)) < 1e-9:
                    continue  # ray parallel to the face
                b1, b2, _ = np.linalg.solve(m, -p0)
                b = np.array([1 - b1 - b2, b1, b2])
                if b.min() > 1e-3:
                    want[yy, xx] = 255 * b @ inten[tri]
                    s = uv[tri]  # screen-space (affine) barycentrics, for contrast
                    a = np.linalg.solve(np.vstack([s.T, np.ones(3)]), [xx + 0.5, yy + 0.5, 1])
                    affine[yy, xx] = 255 * a @ inten[tri]
    sure = want >= 0
    assert sure.sum() > 1000
    assert np.abs(out[sure] - want[sure]).max() <= 1
    assert np.abs(affine[sure] - want[sure]).max() > 3  # the test tells the two apart


def test_sphere_shading_darkens_towards_the_rim():
    h, w, f, pp = 80, 80, 300.0, (40, 40)
    v, faces = blob(rings=30, segments=36, height=1.0, width=1.0, depth=5.0)
    out = cliff.render(np.zeros((h, w, 3), np.uint8), v, faces, f, pp, colors=WHITE, alpha=1.0)
    row = out[40, :, 0].astype(int)
    assert row[40] > 240 and 0 < row[14] < row[25] < row[40]


def test_alpha_blend_formula():
    h, w, f, pp = 30, 30, 100.0, (15, 15)
    v, faces = quad((0, 0, 3.0), 0.5)
    img = np.full((h, w, 3), (10, 100, 200), np.uint8)
    color = np.array([0.2, 0.6, 1.0])
    for alpha in (0.0, 0.3, 0.8, 1.0):
        out = cliff.render(img, v, faces, f, pp, colors=color, alpha=alpha)
        want = np.floor(alpha * 255 * color + (1 - alpha) * img[15, 15] + 0.5)
        np.testing.assert_allclose(out[15, 15], want, atol=1)
        np.testing.assert_array_equal(out[0, 0], img[0, 0])


def test_default_colors_are_the_official_palette():
    import colorsys

    c = cliff.default_colors(3)
    np.testing.assert_allclose(c[1], colorsys.hsv_to_rgb(1 / 3, 0.5, 1.0), atol=1e-7)
    assert c.shape == (3, 3) and c.dtype == np.float32


def test_integer_colors_are_0_to_255():
    v, faces = quad((0, 0, 3.0), 0.5)
    img = np.zeros((20, 20, 3), np.uint8)
    a = cliff.render(img, v, faces, 50.0, colors=np.array([255, 51, 0]), alpha=1.0)
    b = cliff.render(img, v, faces, 50.0, colors=[1.0, 0.2, 0.0], alpha=1.0)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- camera conventions

def test_default_principal_point_is_floor_of_half_size():
    h, w = 31, 45
    v, faces = blob(depth=4.0, rings=8, segments=10)
    img = np.zeros((h, w, 3), np.uint8)
    a = cliff.render(img, v, faces, 40.0)
    b = cliff.render(img, v, faces, 40.0, (w // 2, h // 2))
    c = cliff.render(img, v, faces, 40.0, (w / 2, h / 2))
    np.testing.assert_array_equal(a, b)
    assert np.any(a != c)


def test_focal_pair_and_projection_position():
    # a small square at X = 0.5 m, Z = 5 m with fx = 200 projects to u = 20 + cx
    v, faces = quad((0.5, -0.25, 5.0), 0.05)
    m = draw_mask(60, 80, v, faces, (200.0, 100.0), (30, 30))
    ys, xs = np.nonzero(m)
    assert abs(xs.mean() + 0.5 - 50.0) < 0.6 and abs(ys.mean() + 0.5 - 25.0) < 0.6


# ---------------------------------------------------------------- side view

def test_side_view_is_the_official_turn():
    # official: c = (0, 0, mean z); v' = (v - c) @ Rodrigues([0, pi/2, 0]) + c
    h, w, f = 60, 80, 90.0
    a, faces = blob(depth=4.0, x=-0.6, rings=10, segments=12)
    b, _ = blob(depth=5.0, x=0.4, rings=10, segments=12, width=0.5)
    verts = np.stack([a, b]).astype(np.float64)
    c = np.array([0.0, 0.0, verts[..., 2].mean()])
    R = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # Rodrigues(0, 90 deg, 0)
    turned = ((verts - c) @ R + c).astype(np.float32)
    bg = (200, 220, 240)
    side = cliff.render_side((h, w), verts, faces, f, background=bg)
    want = cliff.render(np.full((h, w, 3), bg, np.uint8), turned, faces, f, alpha=1.0)
    assert np.count_nonzero(np.any(side != want, -1)) <= 3  # float rounding of the turn only
    assert np.any(side != np.array(bg, np.uint8)) and np.all(side[0, 0] == bg)
    # same result through the keyword and from an image argument
    np.testing.assert_array_equal(
        side, cliff.render(np.zeros((h, w, 3), np.uint8), verts, faces, f, side_view=True,
                           background=bg))


# ---------------------------------------------------------------- API behaviour

def test_input_image_is_not_modified_and_empty_scene_is_a_copy():
    img = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    keep = img.copy()
    v, faces = quad((0, 0, 3.0), 0.5)
    out = cliff.render(img, v, faces, 50.0)
    np.testing.assert_array_equal(img, keep)
    assert np.any(out != img)
    empty = cliff.render(img, np.zeros((0, 4, 3)), faces, 50.0)
    np.testing.assert_array_equal(empty, img)
    assert empty is not img


def test_accepts_noncontiguous_readonly_bigendian_and_array_likes():
    v, faces = blob(depth=3.0, rings=8, segments=10)
    img = np.random.default_rng(4).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    want = cliff.render(img, v, faces, 40.0)
    wide = np.zeros((30, 80, 3), np.uint8)
    wide[:, ::2] = img
    ro = img.copy()
    ro.flags.writeable = False
    v_be = v.astype(">f8")
    f_view = np.asfortranarray(faces.astype(np.uint32))
    np.testing.assert_array_equal(cliff.render(wide[:, ::2], v_be, f_view, 40.0), want)
    np.testing.assert_array_equal(cliff.render(ro, v.tolist(), faces.tolist(), [40.0, 40.0]), want)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(
        cliff.render(torch.from_numpy(img), torch.from_numpy(v), torch.from_numpy(faces), 40.0), want)


def test_threads_give_identical_results():
    v, faces = blob(depth=3.0, rings=12, segments=14)
    img = np.zeros((120, 160, 3), np.uint8)
    want = cliff.render(img, v, faces, 150.0)
    results = [None] * 4

    def run(i):
        results[i] = cliff.render(img, v, faces, 150.0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, want)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(image=np.zeros((10, 10, 3), np.float32)), TypeError, "image"),
    (dict(image=np.zeros((10, 10), np.uint8)), ValueError, "image"),
    (dict(image=np.zeros((10, 10, 4), np.uint8)), ValueError, "image"),
    (dict(vertices=np.zeros((4, 2))), ValueError, "vertices"),
    (dict(vertices=np.full((4, 3), np.nan)), ValueError, "vertices"),
    (dict(vertices=np.array([["a", "b", "c"]] * 4)), TypeError, "vertices"),
    (dict(faces=np.array([[0, 1, 2.0]])), TypeError, "faces"),
    (dict(faces=np.array([[0, 1, 4]])), ValueError, "faces"),
    (dict(faces=np.array([[0, -1, 2]])), ValueError, "faces"),
    (dict(faces=np.array([0, 1, 2])), ValueError, "faces"),
    (dict(focal=0.0), ValueError, "focal"),
    (dict(focal=(1.0, 2.0, 3.0)), ValueError, "focal"),
    (dict(focal=float("nan")), ValueError, "focal"),
    (dict(principal_point=(1.0,)), ValueError, "principal_point"),
    (dict(colors=[[1, 0, 0], [0, 1, 0]]), ValueError, "colors"),
    (dict(colors=[1.5, 0, 0]), ValueError, "colors"),
    (dict(colors=[300, 0, 0]), ValueError, "colors"),
    (dict(alpha=1.5), ValueError, "alpha"),
])
def test_bad_input_raises_clear_errors(kwargs, exc, match):
    args = dict(image=np.zeros((10, 10, 3), np.uint8), vertices=quad((0, 0, 3.0), 0.5)[0],
                faces=np.array([[0, 1, 2], [0, 2, 3]]), focal=20.0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        cliff.render(**args)


@pytest.mark.parametrize("focal", [None, "x", ["a", "b"]])
def test_focal_that_is_not_a_number_raises_type_error(focal):
    v, faces = quad((0, 0, 3.0), 0.5)
    with pytest.raises(TypeError, match="^focal:"):
        cliff.render(np.zeros((32, 32, 3), np.uint8), v, faces, focal)


def test_bad_side_view_arguments():
    v, faces = quad((0, 0, 3.0), 0.5)
    with pytest.raises(ValueError, match="background"):
        cliff.render_side((10, 10), v, faces, 20.0, background=(0, 0, 300))
    with pytest.raises(ValueError, match="image"):
        cliff.render_side((0, 10), v, faces, 20.0)


# ---------------------------------------------------------------- files

def test_save_image_png_roundtrip_and_jpeg(tmp_path):
    from PIL import Image

    img = np.random.default_rng(5).integers(0, 256, (13, 17, 3), dtype=np.uint8)
    cliff.save_image(tmp_path / "a.png", img[:, ::-1])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), img[:, ::-1])
    smooth = np.zeros((32, 48, 3), np.uint8)
    smooth[..., 0] = np.arange(48) * 5
    smooth[..., 1] = np.arange(32)[:, None] * 7
    smooth[..., 2] = 128
    cliff.save_image(str(tmp_path / "b.jpg"), smooth)
    j = np.asarray(Image.open(tmp_path / "b.jpg"))
    assert j.shape == smooth.shape and np.abs(j.astype(int) - smooth).mean() < 3


def test_save_image_errors(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="extension"):
        cliff.save_image(tmp_path / "a.xyz", img)
    with pytest.raises(TypeError, match="uint8"):
        cliff.save_image(tmp_path / "a.png", img.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        cliff.save_image(tmp_path / "a.png", np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(OSError, match="cannot write"):
        cliff.save_image(tmp_path / "missing" / "a.png", img)
