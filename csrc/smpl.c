/* smpl.c - the SMPL and SMPL-X body models: shape and pose blend shapes, joints, forward
 * kinematics and linear blend skinning for a batch of bodies (docs/official.md#smpl-forward,
 * #smplx; smplx semantics). One size-parameterised body (cliff_body_create): the kind fixes V
 * and J; forward reads the rotations of the first JP joints and keeps the others at fixed rest
 * rotations, whose pose blend shapes are folded into the template at load (SMPL: JP = J = 24;
 * SMPL-X as BEDLAM drives it: JP = 22 of 55, so the blend has K + 189 features, not K + 486).
 * The sizes below are SMPL's for concreteness (V = 6890, 24 joints, 207 pose features).
 *
 * Layout chosen at load time so that one pass over memory does all per-vertex work:
 *  - The shape and pose blend shapes form one matrix of F = K + 207 "features" (K betas, then
 *    the 207 entries of R_j - I) by 3V columns. It is stored float32 in panels of 8 vertices;
 *    inside a panel a feature row holds x0..x7, y0..y7, z0..z7 (planar), so a panel row is three
 *    8-float vectors and the panel of a body is finished (blend + skin) while it is in registers.
 *    v_posed = v_template + [betas, P] . dirs; that product is the dominant cost (for one body a
 *    217 x 20670 vector-matrix product: 18 MB of float32 streamed once, shared by all bodies of
 *    the call: a panel is read once per call and reused from L1 for every group of 4 bodies).
 *  - The joint regressor is linear, so the rest joints are regressed once at load in float64
 *    from the sparse regressor: J = J_reg.v_template + sum_l betas_l (J_reg.shapedirs_l).
 *    A forward pass then costs 24 x 3 x K multiply-adds for the joints.
 *  - Skinning weights are kept per panel as the few joints that touch its 8 vertices.
 *  - Forward kinematics runs in float64 per body (24 4x4 products, negligible).
 *  - The vertex joints (and SMPL-X's landmark triangle corners) have their own small copy of
 *    their blend-shape columns so that the joints-only pass never touches the big matrix.
 * Work is split over panels (vertices) with OpenMP; bodies are processed in groups of 4 inside
 * a panel. The handle's scratch grows with the batch size only and is reused across calls; calls
 * on one handle are serialized by a mutex. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SMPL_X86 1
#else
#define SMPL_X86 0
#endif

enum {
    MAXJ = CLIFF_BODY_MAX_JOINTS,
    MAX_VERTICES = 1 << 20,
    MAX_EXTRA = 256,     /* vertex joints + landmarks */
    LANES = 8,           /* vertices per panel */
    PW = 3 * LANES,      /* floats per panel row */
    GROUP = 4,           /* bodies per kernel call */
    MAX_BETAS = 300,
};

/* smplx's 'smplh' vertex ids for SMPL: face 5, feet 6, fingertips left then right. */
static const int32_t vertex_joint_ids[CLIFF_SMPL_NUM_VERTEX_JOINTS] = {
    332, 6260, 2800, 4071, 583,           /* nose right_eye left_eye right_ear left_ear */
    3216, 3226, 3387, 6617, 6624, 6787,   /* left_big_toe left_small_toe left_heel, right_... */
    2746, 2319, 2445, 2556, 2673,         /* left_thumb left_index left_middle left_ring left_pinky */
    6191, 5782, 5905, 6016, 6133,         /* right_thumb right_index right_middle right_ring right_pinky */
};

/* smplx's 'smplx' vertex ids for SMPL-X, in the same joint order (vertex_joint_selector:
 * nose, eyes, ears; big toe, small toe, heel left then right; fingertips left then right). */
static const int32_t smplx_vertex_joint_ids[CLIFF_SMPLX_NUM_VERTEX_JOINTS] = {
    9120, 9929, 9448, 616, 6,             /* nose right_eye left_eye right_ear left_ear */
    5770, 5780, 8846, 8463, 8474, 8635,   /* left_big_toe left_small_toe left_heel, right_... */
    5361, 4933, 5058, 5169, 5286,         /* left thumb index middle ring pinky */
    8079, 7669, 7794, 7905, 8022,         /* right thumb index middle ring pinky */
};

/* Per-body data the panel kernel reads: features, skinning transforms, translation. */
typedef struct {
    const float *feat;  /* (F) betas (zero padded to K) then R_j - I */
    const float *A;     /* (24, 12) row-major 3x4 transforms [R | t - R J_rest] */
    const float *transl;/* (3) */
    float *out;         /* (V, 3) vertices of this body */
} body_ref;

struct cliff_smpl;
typedef void (*panel_fn)(const struct cliff_smpl *m, int p, const body_ref *b, int nb);

struct cliff_smpl {
    cliff_body_kind kind;
    int V, J, NP;          /* vertices, joints, pose features of the file (9 (J - 1)) */
    int JP;                /* joints whose rotation forward reads (root first); the others rest */
    int NX, NL, NS, XW;    /* vertex joints, landmarks, selected vertices (NX + 3 NL), x row width */
    int NOUT;              /* output joints: J + NX + NL */
    int K, F, num_panels;  /* betas, features (K + 9 (JP - 1)), panels */
    atomic_int threads; /* 0 = the process-wide count (cliff_set_num_threads) */
    float *dirs;           /* (num_panels, F, PW) */
    float *tmpl;           /* (num_panels, PW) */
    int *pj_start;         /* (num_panels + 1) offsets into pj_joint / pj_weight */
    int *pj_joint;         /* joints with a non-zero weight on the panel */
    float *pj_weight;      /* (total, LANES) their weights for the panel's vertices */
    double *J_tmpl;        /* (24, 3) J_reg . v_template */
    double *J_dirs;        /* (24, 3, K) J_reg . shapedirs */
    int parents[MAXJ];
    float rest[MAXJ][9];   /* rotation of the joints >= JP (identity unless given) */
    int32_t *sel;          /* (NS) selected vertices: the vertex joints, then 3 per landmark */
    float *lmk_w;          /* (NL, 3) barycentric weights of the landmarks */
    int32_t *faces;        /* (num_faces, 3) or NULL */
    size_t num_faces;
    float *x_dirs;         /* (F, XW) blend columns of the selected vertices (3 NS used) */
    float *x_tmpl;         /* (XW) */
    float *x_weights;      /* (NS, J) */
    double *x64;           /* float64 rows of the vertex joints (cliff_smpl_fit_body): */
    double *x64_dirs, *x64_pose, *x64_weights; /* vt (NX,3), vdirs (NX,3,K), vpose (NX,3,NP), vweights (NX,J) */
    panel_fn panel;
    pthread_mutex_t lock;
    float *scratch;        /* per-call body data, grows with the batch size */
    size_t scratch_cap;    /* floats */
};

/* ---- panel kernels: blend shapes then skinning for the 8 vertices of panel p ---------- */

static inline void skin_store(int V, int p, const body_ref *b, const float *T,
                              const float *pos) {
    /* T (12, LANES) per-vertex 3x4 transforms; pos (3, LANES) planar rest-posed vertices. */
    int v0 = p * LANES, nv = V - v0 < LANES ? V - v0 : LANES;
    float *o = b->out + (size_t)v0 * 3;
    for (int i = 0; i < nv; i++) {
        float x = pos[i], y = pos[LANES + i], z = pos[2 * LANES + i];
        for (int r = 0; r < 3; r++) {
            const float *t = T + 4 * r * LANES;
            o[3 * i + r] = t[i] * x + t[LANES + i] * y + t[2 * LANES + i] * z + t[3 * LANES + i]
                         + b->transl[r];
        }
    }
}

static void panel_generic(const cliff_smpl *m, int p, const body_ref *b, int nb) {
    const int F = m->F;
    for (int g = 0; g < nb; g++) {
        float acc[PW], T[12 * LANES];
        const float *d = m->dirs + (size_t)p * F * PW, *feat = b[g].feat;
        memcpy(acc, m->tmpl + (size_t)p * PW, sizeof acc);
        for (int f = 0; f < F; f++, d += PW) {
            float x = feat[f];
            for (int i = 0; i < PW; i++) acc[i] += x * d[i];
        }
        memset(T, 0, sizeof T);
        for (int q = m->pj_start[p]; q < m->pj_start[p + 1]; q++) {
            const float *a = b[g].A + 12 * m->pj_joint[q], *w = m->pj_weight + (size_t)q * LANES;
            for (int e = 0; e < 12; e++)
                for (int i = 0; i < LANES; i++) T[e * LANES + i] += w[i] * a[e];
        }
        skin_store(m->V, p, &b[g], T, acc);
    }
}

#if SMPL_X86
#define AVX_FMA __attribute__((target("avx,fma")))

/* Blend for 4 bodies: 12 named accumulators so that they stay in registers. */
static inline __attribute__((always_inline)) AVX_FMA void
blend4_avx(const float *d, const float *t0, int F, const body_ref *b, float (*vp)[PW]) {
    const float *f0 = b[0].feat, *f1 = b[1].feat, *f2 = b[2].feat, *f3 = b[3].feat;
    __m256 a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
    a00 = a10 = a20 = a30 = _mm256_load_ps(t0);
    a01 = a11 = a21 = a31 = _mm256_load_ps(t0 + 8);
    a02 = a12 = a22 = a32 = _mm256_load_ps(t0 + 16);
    for (int f = 0; f < F; f++, d += PW) {
        const __m256 d0 = _mm256_load_ps(d), d1 = _mm256_load_ps(d + 8), d2 = _mm256_load_ps(d + 16);
        __m256 x;
#define BLEND_STEP(g)                                     \
        x = _mm256_broadcast_ss(f##g + f);                \
        a##g##0 = _mm256_fmadd_ps(x, d0, a##g##0);        \
        a##g##1 = _mm256_fmadd_ps(x, d1, a##g##1);        \
        a##g##2 = _mm256_fmadd_ps(x, d2, a##g##2);
        BLEND_STEP(0) BLEND_STEP(1) BLEND_STEP(2) BLEND_STEP(3)
#undef BLEND_STEP
    }
#define BLEND_STORE(g)                                    \
    _mm256_store_ps(vp[g], a##g##0);                      \
    _mm256_store_ps(vp[g] + 8, a##g##1);                  \
    _mm256_store_ps(vp[g] + 16, a##g##2);
    BLEND_STORE(0) BLEND_STORE(1) BLEND_STORE(2) BLEND_STORE(3)
#undef BLEND_STORE
}

static inline __attribute__((always_inline)) AVX_FMA void
blend1_avx(const float *d, const float *t0, int F, const float *feat, float *vp) {
    __m256 a0 = _mm256_load_ps(t0), a1 = _mm256_load_ps(t0 + 8), a2 = _mm256_load_ps(t0 + 16);
    for (int f = 0; f < F; f++, d += PW) {
        const __m256 x = _mm256_broadcast_ss(feat + f);
        a0 = _mm256_fmadd_ps(x, _mm256_load_ps(d), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_load_ps(d + 8), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_load_ps(d + 16), a2);
    }
    _mm256_store_ps(vp, a0);
    _mm256_store_ps(vp + 8, a1);
    _mm256_store_ps(vp + 16, a2);
}

static AVX_FMA void panel_avx(const cliff_smpl *m, int p, const body_ref *b, int nb) {
    const int F = m->F;
    const float *d = m->dirs + (size_t)p * F * PW, *t0 = m->tmpl + (size_t)p * PW;
    float vp[GROUP][PW] __attribute__((aligned(32)));
    if (nb == GROUP)
        blend4_avx(d, t0, F, b, vp);
    else
        for (int g = 0; g < nb; g++) blend1_avx(d, t0, F, b[g].feat, vp[g]);
    /* Skin: out = sum_q w_q (R_q v + t_q) + transl, for the panel's joints q. */
    const int q0 = m->pj_start[p], q1 = m->pj_start[p + 1];
    const int V = m->V, v0 = p * LANES, nv = V - v0 < LANES ? V - v0 : LANES;
    for (int g = 0; g < nb; g++) {
        const __m256 x = _mm256_load_ps(vp[g]), y = _mm256_load_ps(vp[g] + 8),
                     z = _mm256_load_ps(vp[g] + 16);
        __m256 o[3];
        for (int r = 0; r < 3; r++) o[r] = _mm256_broadcast_ss(b[g].transl + r);
        for (int q = q0; q < q1; q++) {
            const __m256 w = _mm256_load_ps(m->pj_weight + (size_t)q * LANES);
            const float *a = b[g].A + 12 * m->pj_joint[q];
            for (int r = 0; r < 3; r++) {
                __m256 t = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4 * r), x, _mm256_broadcast_ss(a + 4 * r + 3));
                t = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4 * r + 1), y, t);
                t = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4 * r + 2), z, t);
                o[r] = _mm256_fmadd_ps(w, t, o[r]);
            }
        }
        float pos[3][LANES] __attribute__((aligned(32)));
        for (int r = 0; r < 3; r++) _mm256_store_ps(pos[r], o[r]);
        float *out = b[g].out + (size_t)v0 * 3;
        for (int i = 0; i < nv; i++) {
            out[3 * i] = pos[0][i];
            out[3 * i + 1] = pos[1][i];
            out[3 * i + 2] = pos[2][i];
        }
    }
}

#endif

static panel_fn choose_kernel(void) {
    const char *env = getenv("CLIFF_SMPL_KERNEL");
    if (env && !strcmp(env, "generic")) return panel_generic;
#if SMPL_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx") && __builtin_cpu_supports("fma")) return panel_avx;
#endif
    return panel_generic;
}

/* ---- creation -------------------------------------------------------------------------- */

void cliff_smpl_vertex_joint_ids(int32_t *ids) { memcpy(ids, vertex_joint_ids, sizeof vertex_joint_ids); }

size_t cliff_smpl_num_betas(const cliff_smpl *m) { return m ? (size_t)m->K : 0; }
cliff_body_kind cliff_body_get_kind(const cliff_body *m) { return m ? m->kind : CLIFF_BODY_SMPL; }
size_t cliff_body_num_vertices(const cliff_body *m) { return m ? (size_t)m->V : 0; }
size_t cliff_body_num_joints(const cliff_body *m) { return m ? (size_t)m->J : 0; }
size_t cliff_body_num_pose_joints(const cliff_body *m) { return m ? (size_t)m->JP : 0; }
size_t cliff_body_num_vertex_joints(const cliff_body *m) { return m ? (size_t)m->NX : 0; }
size_t cliff_body_num_landmarks(const cliff_body *m) { return m ? (size_t)m->NL : 0; }
size_t cliff_body_num_output_joints(const cliff_body *m) { return m ? (size_t)m->NOUT : 0; }
size_t cliff_body_num_faces(const cliff_body *m) { return m ? m->num_faces : 0; }
const int32_t *cliff_body_faces(const cliff_body *m) { return m ? m->faces : NULL; }
void cliff_body_vertex_joint_ids(const cliff_body *m, int32_t *ids) {
    if (m && ids) memcpy(ids, m->sel, sizeof(int32_t) * (size_t)m->NX);
}

size_t cliff_body_default_vertex_joint_ids(cliff_body_kind kind, int32_t *ids) {
    const int32_t *src = kind == CLIFF_BODY_SMPLX ? smplx_vertex_joint_ids : vertex_joint_ids;
    if (ids) memcpy(ids, src, sizeof(int32_t) * CLIFF_SMPL_NUM_VERTEX_JOINTS);
    return CLIFF_SMPL_NUM_VERTEX_JOINTS;
}

cliff_body_params cliff_body_default_params(void) {
    cliff_body_params p;
    memset(&p, 0, sizeof p);
    p.kind = CLIFF_BODY_SMPL;
    return p;
}

void cliff_smpl_free(cliff_smpl *m) {
    if (!m) return;
    cliff_free(m->dirs);
    cliff_free(m->tmpl);
    cliff_free(m->pj_start);
    cliff_free(m->pj_joint);
    cliff_free(m->pj_weight);
    cliff_free(m->J_tmpl);
    cliff_free(m->J_dirs);
    cliff_free(m->x_dirs);
    cliff_free(m->x_tmpl);
    cliff_free(m->x_weights);
    cliff_free(m->sel);
    cliff_free(m->lmk_w);
    cliff_free(m->faces);
    cliff_free(m->x64);
    cliff_free(m->scratch);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Finite in float32, the precision the model is stored and evaluated in: 1e300 is finite as
 * a double but becomes inf in float32 (and then every vertex NaN). */
static int all_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs(x[i]) <= (double)FLT_MAX)) return 0;
    return 1;
}

/* Blend-shape value of feature f (< K: shape, else pose) for vertex v, axis c. */
static double dir_value(const double *shapedirs, const double *posedirs, int K, int NP, int v, int c, int f) {
    return f < K ? shapedirs[((size_t)v * 3 + c) * K + f] : posedirs[((size_t)v * 3 + c) * NP + f - K];
}

cliff_status cliff_body_create(const cliff_body_params *prm, cliff_body **out) {
    if (!out) return cliff_fail(CLIFF_EINVAL, "cliff_body_create: out is NULL");
    *out = NULL;
    if (!prm) return cliff_fail(CLIFF_EINVAL, "cliff_body_create: params is NULL");
    const double *v_template = prm->v_template, *shapedirs = prm->shapedirs, *posedirs = prm->posedirs,
                 *J_regressor = prm->J_regressor, *weights = prm->weights;
    const int64_t *parents = prm->parents;
    const size_t num_betas = prm->num_betas;
    if (prm->kind != CLIFF_BODY_SMPL && prm->kind != CLIFF_BODY_SMPLX)
        return cliff_fail(CLIFF_EINVAL, "kind: expected CLIFF_BODY_SMPL or CLIFF_BODY_SMPLX, got %d", (int)prm->kind);
    const int smplx = prm->kind == CLIFF_BODY_SMPLX;
    const size_t want_v = smplx ? CLIFF_SMPLX_NUM_VERTICES : CLIFF_SMPL_NUM_VERTICES,
                 want_j = smplx ? CLIFF_SMPLX_NUM_JOINTS : CLIFF_SMPL_NUM_JOINTS;
    if (prm->num_vertices != want_v || prm->num_joints != want_j)
        return cliff_fail(CLIFF_EINVAL, "%s: expected %zu vertices and %zu joints, got %zu and %zu",
                          smplx ? "SMPL-X" : "SMPL", want_v, want_j, prm->num_vertices, prm->num_joints);
    const int V = (int)want_v, J = (int)want_j, NP = 9 * (J - 1);
    const int JP = prm->num_pose_joints ? (int)prm->num_pose_joints : J;
    if (prm->num_pose_joints > (size_t)J)
        return cliff_fail(CLIFF_EINVAL, "num_pose_joints: expected 1..%d, got %zu", J, prm->num_pose_joints);
    const int32_t *vx = prm->vertex_joint_ids ? prm->vertex_joint_ids
                                              : smplx ? smplx_vertex_joint_ids : vertex_joint_ids;
    const int NX = prm->vertex_joint_ids ? (int)prm->num_vertex_joints
                                         : smplx ? CLIFF_SMPLX_NUM_VERTEX_JOINTS : CLIFF_SMPL_NUM_VERTEX_JOINTS;
    if (prm->vertex_joint_ids && prm->num_vertex_joints > MAX_EXTRA)
        return cliff_fail(CLIFF_EINVAL, "num_vertex_joints: expected at most %d, got %zu", MAX_EXTRA,
                          prm->num_vertex_joints);
    if (prm->num_landmarks > MAX_EXTRA || (prm->num_landmarks && (!prm->landmark_vertices || !prm->landmark_weights)))
        return cliff_fail(CLIFF_EINVAL, "landmarks: expected at most %d, with their vertices and weights, got %zu",
                          MAX_EXTRA, prm->num_landmarks);
    const int NL = (int)prm->num_landmarks;
    if (!v_template || !posedirs || !J_regressor || !weights || !parents || (num_betas > 0 && !shapedirs))
        return cliff_fail(CLIFF_EINVAL, "cliff_smpl_create: a model array is NULL");
    if (num_betas > MAX_BETAS)
        return cliff_fail(CLIFF_EINVAL, "num_betas: expected 0..%d, got %zu", MAX_BETAS, num_betas);
    if (parents[0] != -1)
        return cliff_fail(CLIFF_EINVAL, "parents: the root (joint 0) must have parent -1, got %lld",
                          (long long)parents[0]);
    for (int j = 1; j < J; j++)
        if (parents[j] < 0 || parents[j] >= j)
            return cliff_fail(CLIFF_EINVAL, "parents: joint %d has parent %lld; expected a parent "
                              "index in [0, %d) (joints in topological order)", j, (long long)parents[j], j);
    for (int x = 0; x < NX; x++)
        if (vx[x] < 0 || vx[x] >= V)
            return cliff_fail(CLIFF_EINVAL, "vertex_joint_ids: entry %d is %d, expected a vertex in [0, %d)", x, (int)vx[x], V);
    for (int l = 0; l < 3 * NL; l++)
        if (prm->landmark_vertices[l] < 0 || prm->landmark_vertices[l] >= V)
            return cliff_fail(CLIFF_EINVAL, "landmark_vertices: entry %d is %d, expected a vertex in [0, %d)", l,
                              (int)prm->landmark_vertices[l], V);
    if (prm->num_faces && !prm->faces) return cliff_fail(CLIFF_EINVAL, "faces: NULL with num_faces > 0");
    if (prm->num_faces > (size_t)1 << 24)
        return cliff_fail(CLIFF_EINVAL, "num_faces: expected at most %d, got %zu", 1 << 24, prm->num_faces);
    for (size_t i = 0; i < 3 * prm->num_faces; i++)
        if (prm->faces[i] < 0 || prm->faces[i] >= V)
            return cliff_fail(CLIFF_EINVAL, "faces: entry %zu is %d, expected a vertex in [0, %d)", i, (int)prm->faces[i], V);
    const int K = (int)num_betas, F = K + 9 * (JP - 1);
    struct { const char *name; const double *p; size_t n; } arrays[] = {
        {"v_template", v_template, (size_t)V * 3}, {"shapedirs", shapedirs, (size_t)V * 3 * K},
        {"posedirs", posedirs, (size_t)V * 3 * NP}, {"J_regressor", J_regressor, (size_t)J * V},
        {"weights", weights, (size_t)V * J}, {"rest_rotmats", prm->rest_rotmats, prm->rest_rotmats ? (size_t)J * 9 : 0},
        {"landmark_weights", prm->landmark_weights, (size_t)NL * 3},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (arrays[i].n && !all_finite(arrays[i].p, arrays[i].n))
            return cliff_fail(CLIFF_EINVAL, "%s: contains NaN or infinite values (in float32, the precision "
                              "the core computes in)", arrays[i].name);

    cliff_smpl *m = calloc(1, sizeof *m);
    if (!m) return cliff_fail(CLIFF_ENOMEM, "cliff_smpl_create: out of memory");
    if (pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return cliff_fail(CLIFF_ENOMEM, "cliff_smpl_create: cannot create a mutex");
    }
    m->kind = prm->kind;
    m->V = V;
    m->J = J;
    m->NP = NP;
    m->JP = JP;
    m->NX = NX;
    m->NL = NL;
    m->NS = NX + 3 * NL;
    m->XW = (3 * m->NS + 15) & ~15;
    m->NOUT = J + NX + NL;
    m->K = K;
    m->F = F;
    m->num_panels = (V + LANES - 1) / LANES;
    const int P = m->num_panels, NS = m->NS, XW = m->XW;
    for (int j = 0; j < J; j++) m->parents[j] = (int)parents[j];
    for (int j = 0; j < J; j++)
        for (int e = 0; e < 9; e++)
            m->rest[j][e] = prm->rest_rotmats ? (float)prm->rest_rotmats[9 * j + e] : (e % 4 == 0 ? 1.0f : 0.0f);

    /* The template the panels blend from: v_template plus the pose blend shapes of the joints
     * that stay at rest (nothing when they rest at the identity), float64. */
    double *vt = (double *)v_template, *vt_own = NULL;
    if (prm->rest_rotmats && JP < J) {
        vt = vt_own = cliff_alloc(sizeof(double) * (size_t)V * 3);
        if (!vt) goto nomem;
        for (int v = 0; v < V; v++)
            for (int c = 0; c < 3; c++) {
                double s = v_template[(size_t)v * 3 + c];
                const double *pd = posedirs + ((size_t)v * 3 + c) * NP;
                for (int j = JP; j < J; j++)
                    for (int e = 0; e < 9; e++)
                        s += pd[(j - 1) * 9 + e] * (prm->rest_rotmats[9 * j + e] - (e % 4 == 0 ? 1.0 : 0.0));
                vt[(size_t)v * 3 + c] = s;
            }
    }

    /* Skinning weights: per panel, the joints with a non-zero weight on any of its vertices. */
    int total = 0;
    m->pj_start = cliff_alloc(sizeof(int) * (size_t)(P + 1));
    m->dirs = cliff_alloc(sizeof(float) * (size_t)P * F * PW);
    m->tmpl = cliff_alloc(sizeof(float) * (size_t)P * PW);
    m->J_tmpl = cliff_alloc(sizeof(double) * J * 3);
    m->J_dirs = cliff_alloc(sizeof(double) * J * 3 * (K ? K : 1));
    m->x_dirs = cliff_alloc(sizeof(float) * (size_t)F * XW);
    m->x_tmpl = cliff_alloc(sizeof(float) * (size_t)XW);
    m->x_weights = cliff_alloc(sizeof(float) * (size_t)NS * J);
    m->sel = cliff_alloc(sizeof(int32_t) * (size_t)(NS ? NS : 1));
    m->lmk_w = cliff_alloc(sizeof(float) * (size_t)(NL ? 3 * NL : 1));
    m->x64 = cliff_alloc(sizeof(double) * NX * (3 + 3 * (size_t)K + 3 * NP + J) + 1);
    if (!m->pj_start || !m->dirs || !m->tmpl || !m->J_tmpl || !m->J_dirs || !m->x_dirs || !m->x_tmpl ||
        !m->x_weights || !m->sel || !m->lmk_w || !m->x64)
        goto nomem;
    if (prm->num_faces) {
        m->faces = cliff_alloc(sizeof(int32_t) * 3 * prm->num_faces);
        if (!m->faces) goto nomem;
        memcpy(m->faces, prm->faces, sizeof(int32_t) * 3 * prm->num_faces);
        m->num_faces = prm->num_faces;
    }
    memcpy(m->sel, vx, sizeof(int32_t) * (size_t)NX);
    for (int l = 0; l < 3 * NL; l++) {
        m->sel[NX + l] = prm->landmark_vertices[l];
        m->lmk_w[l] = (float)prm->landmark_weights[l];
    }
    for (int p = 0; p < P; p++) {
        m->pj_start[p] = total;
        for (int j = 0; j < J; j++)
            for (int i = 0; i < LANES && p * LANES + i < V; i++)
                if (weights[(size_t)(p * LANES + i) * J + j] != 0.0) {
                    total++;
                    break;
                }
    }
    m->pj_start[P] = total;
    m->pj_joint = cliff_alloc(sizeof(int) * (size_t)(total ? total : 1));
    m->pj_weight = cliff_alloc(sizeof(float) * (size_t)(total ? total : 1) * LANES);
    if (!m->pj_joint || !m->pj_weight) goto nomem;
    for (int p = 0, q = 0; p < P; p++)
        for (int j = 0; j < J; j++) {
            int used = 0;
            for (int i = 0; i < LANES && p * LANES + i < V; i++)
                used |= weights[(size_t)(p * LANES + i) * J + j] != 0.0;
            if (!used) continue;
            m->pj_joint[q] = j;
            for (int i = 0; i < LANES; i++) {
                int v = p * LANES + i;
                m->pj_weight[(size_t)q * LANES + i] = v < V ? (float)weights[(size_t)v * J + j] : 0.0f;
            }
            q++;
        }

    /* Blend shapes and template, packed in planar panels (padding vertices are zero). */
    for (int p = 0; p < P; p++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < LANES; i++) {
                int v = p * LANES + i;
                m->tmpl[(size_t)p * PW + c * LANES + i] = v < V ? (float)vt[(size_t)v * 3 + c] : 0.0f;
                float *d = m->dirs + (size_t)p * F * PW + c * LANES + i;
                for (int f = 0; f < F; f++)
                    d[(size_t)f * PW] = v < V ? (float)dir_value(shapedirs, posedirs, K, NP, v, c, f) : 0.0f;
            }

    /* The selected vertices (vertex joints, landmark corners): template, blend columns
     * (F, XW) and dense weights. */
    memset(m->x_tmpl, 0, sizeof(float) * (size_t)XW);
    memset(m->x_dirs, 0, sizeof(float) * (size_t)F * XW);
    for (int x = 0; x < NS; x++) {
        int v = m->sel[x];
        for (int c = 0; c < 3; c++) {
            m->x_tmpl[3 * x + c] = (float)vt[(size_t)v * 3 + c];
            for (int f = 0; f < F; f++)
                m->x_dirs[(size_t)f * XW + 3 * x + c] = (float)dir_value(shapedirs, posedirs, K, NP, v, c, f);
        }
        for (int j = 0; j < J; j++) m->x_weights[(size_t)x * J + j] = (float)weights[(size_t)v * J + j];
    }
    cliff_free(vt_own);
    vt = NULL;
    /* ... and the vertex joints' float64 rows for the fitter */
    m->x64_dirs = m->x64 + NX * 3;
    m->x64_pose = m->x64_dirs + (size_t)NX * 3 * K;
    m->x64_weights = m->x64_pose + (size_t)NX * 3 * NP;
    for (int x = 0; x < NX; x++) {
        size_t v = (size_t)vx[x];
        memcpy(m->x64 + x * 3, v_template + v * 3, 3 * sizeof(double));
        if (K) memcpy(m->x64_dirs + (size_t)x * 3 * K, shapedirs + v * 3 * K, 3 * (size_t)K * sizeof(double));
        memcpy(m->x64_pose + (size_t)x * 3 * NP, posedirs + v * 3 * NP, 3 * (size_t)NP * sizeof(double));
        memcpy(m->x64_weights + (size_t)x * J, weights + v * J, J * sizeof(double));
    }

    /* Rest joints in shape space, float64, skipping the regressor's zeros. */
    memset(m->J_tmpl, 0, sizeof(double) * J * 3);
    memset(m->J_dirs, 0, sizeof(double) * J * 3 * (K ? K : 1));
    for (int j = 0; j < J; j++)
        for (int v = 0; v < V; v++) {
            double r = J_regressor[(size_t)j * V + v];
            if (r == 0.0) continue;
            for (int c = 0; c < 3; c++) {
                m->J_tmpl[j * 3 + c] += r * v_template[(size_t)v * 3 + c];
                for (int l = 0; l < K; l++)
                    m->J_dirs[((size_t)j * 3 + c) * K + l] += r * shapedirs[((size_t)v * 3 + c) * K + l];
            }
        }

    m->panel = choose_kernel();
    *out = m;
    return CLIFF_OK;
nomem:
    cliff_free(vt_own);
    cliff_smpl_free(m);
    return cliff_fail(CLIFF_ENOMEM, "cliff_smpl_create: out of memory");
}

cliff_status cliff_smpl_create(const double *v_template, const double *shapedirs, size_t num_betas,
                               const double *posedirs, const double *J_regressor,
                               const double *weights, const int64_t *parents, cliff_smpl **out) {
    cliff_body_params p = cliff_body_default_params();
    p.num_vertices = CLIFF_SMPL_NUM_VERTICES;
    p.num_joints = CLIFF_SMPL_NUM_JOINTS;
    p.num_betas = num_betas;
    p.v_template = v_template;
    p.shapedirs = shapedirs;
    p.posedirs = posedirs;
    p.J_regressor = J_regressor;
    p.weights = weights;
    p.parents = parents;
    if (!out) return cliff_fail(CLIFF_EINVAL, "cliff_smpl_create: out is NULL");
    return cliff_body_create(&p, out);
}

/* ---- the fitter's body ------------------------------------------------------------------ */

cliff_status cliff_smpl_fit_body(const cliff_smpl *m, size_t k, double *J0, double *Jdirs,
                                 int64_t *parents, double *vt, double *vdirs, double *vpose,
                                 double *vweights) {
    if (!m) return cliff_fail(CLIFF_EINVAL, "cliff_smpl_fit_body: model is NULL");
    if (m->kind != CLIFF_BODY_SMPL)
        return cliff_fail(CLIFF_EINVAL, "cliff_smpl_fit_body: the fitter's body is SMPL's; this model is SMPL-X");
    const int J = m->J, NX = m->NX, NP = m->NP;
    if (k > (size_t)m->K)
        return cliff_fail(CLIFF_EINVAL, "num_betas: expected at most %d (the model's num_betas), got %zu",
                          m->K, k);
    const size_t K = (size_t)m->K;
    if (J0) memcpy(J0, m->J_tmpl, sizeof(double) * J * 3);
    for (size_t r = 0; r < (size_t)J * 3; r++) /* rows (joint, axis), first k columns */
        if (Jdirs && k) memcpy(Jdirs + r * k, m->J_dirs + r * K, k * sizeof(double));
    for (int j = 0; parents && j < J; j++) parents[j] = m->parents[j];
    if (vt) memcpy(vt, m->x64, sizeof(double) * NX * 3);
    for (size_t r = 0; r < (size_t)NX * 3; r++)
        if (vdirs && k) memcpy(vdirs + r * k, m->x64_dirs + r * K, k * sizeof(double));
    if (vpose) memcpy(vpose, m->x64_pose, sizeof(double) * NX * 3 * NP);
    if (vweights) memcpy(vweights, m->x64_weights, sizeof(double) * NX * J);
    return CLIFF_OK;
}

/* ---- forward --------------------------------------------------------------------------- */

/* Per-body preparation: rest joints, features, forward kinematics, skinning transforms. */
static void prepare_body(const cliff_smpl *m, const float *R, const float *beta, int k,
                         float *feat, float *A, float *joints, float *joints_rest, const float *tr) {
    const int K = m->K, J = m->J, JP = m->JP;
    double Jr[MAXJ][3], G[MAXJ][12];
    for (int j = 0; j < J; j++)
        for (int c = 0; c < 3; c++) {
            const double *d = m->J_dirs + ((size_t)j * 3 + c) * K;
            double s = m->J_tmpl[j * 3 + c];
            for (int l = 0; l < k; l++) s += d[l] * (double)beta[l];
            Jr[j][c] = s;
        }
    if (joints_rest)
        for (int j = 0; j < J; j++)
            for (int c = 0; c < 3; c++) joints_rest[j * 3 + c] = (float)Jr[j][c];
    for (int l = 0; l < K; l++) feat[l] = l < k ? beta[l] : 0.0f;
    for (int j = 1; j < JP; j++)
        for (int e = 0; e < 9; e++)
            feat[K + (j - 1) * 9 + e] = R[j * 9 + e] - ((e % 4 == 0) ? 1.0f : 0.0f);
    for (int j = 0; j < J; j++) {
        const float *Rj = j < JP ? R + 9 * j : m->rest[j];
        int pa = m->parents[j];
        double rel[3];
        for (int c = 0; c < 3; c++) rel[c] = Jr[j][c] - (pa >= 0 ? Jr[pa][c] : 0.0);
        if (pa < 0) {
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 3; c++) G[j][4 * r + c] = Rj[3 * r + c];
                G[j][4 * r + 3] = rel[r];
            }
        } else {
            const double *Gp = G[pa];
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 3; c++)
                    G[j][4 * r + c] = Gp[4 * r] * Rj[c] + Gp[4 * r + 1] * Rj[3 + c] + Gp[4 * r + 2] * Rj[6 + c];
                G[j][4 * r + 3] = Gp[4 * r] * rel[0] + Gp[4 * r + 1] * rel[1] + Gp[4 * r + 2] * rel[2] + Gp[4 * r + 3];
            }
        }
        for (int r = 0; r < 3; r++) {
            const double *g = G[j] + 4 * r;
            joints[j * 3 + r] = (float)(g[3] + tr[r]);
            for (int c = 0; c < 3; c++) A[12 * j + 4 * r + c] = (float)g[c];
            A[12 * j + 4 * r + 3] = (float)(g[3] - (g[0] * Jr[j][0] + g[1] * Jr[j][1] + g[2] * Jr[j][2]));
        }
    }
}

/* Landmarks (output joints J + NX ..) from the posed corners of their triangles, without
 * transl (pv (3 NL, 3)), as smplx does before adding transl. */
static void landmarks(const cliff_smpl *m, const float *pv, const float *tr, float *joints) {
    for (int l = 0; l < m->NL; l++)
        for (int r = 0; r < 3; r++) {
            const float *w = m->lmk_w + 3 * l;
            joints[3 * (m->J + m->NX + l) + r] =
                w[0] * pv[9 * l + r] + w[1] * pv[9 * l + 3 + r] + w[2] * pv[9 * l + 6 + r] + tr[r];
        }
}

/* Joints-only path: blend and skin the selected vertices (vertex joints, landmark corners). */
static void vertex_joints_only(const cliff_smpl *m, const float *feat, const float *A,
                               const float *tr, float *joints, float *pos) {
    /* pos: (XW + 9 NL) scratch */
    const int J = m->J, XW = m->XW;
    float *pv = pos + XW;
    memcpy(pos, m->x_tmpl, sizeof(float) * (size_t)XW);
    for (int f = 0; f < m->F; f++) {
        const float *d = m->x_dirs + (size_t)f * XW, x = feat[f];
        for (int i = 0; i < XW; i++) pos[i] += x * d[i];
    }
    for (int x = 0; x < m->NS; x++) {
        float T[12] = {0};
        for (int j = 0; j < J; j++) {
            float w = m->x_weights[(size_t)x * J + j];
            if (w == 0.0f) continue;
            for (int e = 0; e < 12; e++) T[e] += w * A[12 * j + e];
        }
        const float *p = pos + 3 * x;
        for (int r = 0; r < 3; r++) {
            float s = T[4 * r] * p[0] + T[4 * r + 1] * p[1] + T[4 * r + 2] * p[2] + T[4 * r + 3];
            if (x < m->NX) joints[3 * (J + x) + r] = s + tr[r];
            else pv[3 * (x - m->NX) + r] = s;
        }
    }
    landmarks(m, pv, tr, joints);
}

void cliff_smpl_set_num_threads(cliff_smpl *m, int n) {
    if (m) atomic_store(&m->threads, n > 0 ? n : 0);
}

int cliff_smpl_get_num_threads(const cliff_smpl *m) {
    int n = m ? atomic_load(&((cliff_smpl *)m)->threads) : 0;
    return n > 0 ? n : cliff_threads();
}

cliff_status cliff_smpl_forward(cliff_smpl *m, size_t n, const float *rotmats, const float *betas,
                                size_t num_k, const float *transl, float *vertices, float *joints,
                                float *joints_rest) {
    if (!m) return cliff_fail(CLIFF_EINVAL, "cliff_smpl_forward: model is NULL");
    if (num_k > (size_t)m->K)
        return cliff_fail(CLIFF_EINVAL, "betas: expected at most %d components (the model's num_betas), got %zu",
                          m->K, num_k);
    const int k = (int)num_k;
    if (n == 0) return CLIFF_OK;
    if (!rotmats || !joints || (k > 0 && !betas))
        return cliff_fail(CLIFF_EINVAL, "cliff_smpl_forward: rotmats, joints (and betas when k > 0) are required");
    const int V = m->V, J = m->J, NX = m->NX, NOUT = m->NOUT;
    if (n > ((size_t)1 << 40) / ((size_t)V * 3))
        return cliff_fail(CLIFF_EINVAL, "cliff_smpl_forward: batch of %zu bodies is too large", n);

    /* per body: features, transforms A (J, 12), transl (16), joints-only scratch */
    const size_t fstride = ((size_t)m->F + 15) & ~(size_t)15,
                 xstride = vertices ? 0 : (((size_t)m->XW + 9 * (size_t)m->NL + 15) & ~(size_t)15),
                 bstride = fstride + 12 * (size_t)J + 16 + xstride;
    pthread_mutex_lock(&m->lock);
    if (m->scratch_cap < n * bstride) {
        cliff_free(m->scratch);
        m->scratch = cliff_alloc(sizeof(float) * n * bstride);
        m->scratch_cap = m->scratch ? n * bstride : 0;
        if (!m->scratch) {
            pthread_mutex_unlock(&m->lock);
            return cliff_fail(CLIFF_ENOMEM, "cliff_smpl_forward: out of memory for %zu bodies", n);
        }
    }
    float *scratch = m->scratch;
    const float zero3[3] = {0, 0, 0};
    const long nn = (long)n;
    omp_set_num_threads(cliff_smpl_get_num_threads(m));

    /* ~1-3 us per body: threads only pay off for large batches. */
#pragma omp parallel for schedule(static) if (n >= 256)
    for (long i = 0; i < nn; i++) {
        float *feat = scratch + (size_t)i * bstride, *A = feat + fstride, *tr = A + 12 * J;
        const float *t = transl ? transl + 3 * i : zero3;
        memcpy(tr, t, 3 * sizeof(float));
        prepare_body(m, rotmats + (size_t)i * m->JP * 9, k ? betas + (size_t)i * k : NULL, k, feat, A,
                     joints + (size_t)i * NOUT * 3, joints_rest ? joints_rest + (size_t)i * J * 3 : NULL, tr);
        if (!vertices) vertex_joints_only(m, feat, A, tr, joints + (size_t)i * NOUT * 3, tr + 16);
    }

    if (vertices) {
        const int P = m->num_panels;
#pragma omp parallel for schedule(dynamic, 16)
        for (int p = 0; p < P; p++) {
            for (size_t i0 = 0; i0 < n; i0 += GROUP) {
                body_ref b[GROUP];
                int nb = n - i0 < GROUP ? (int)(n - i0) : GROUP;
                for (int g = 0; g < nb; g++) {
                    float *feat = scratch + (i0 + g) * bstride;
                    b[g].feat = feat;
                    b[g].A = feat + fstride;
                    b[g].transl = feat + fstride + 12 * J;
                    b[g].out = vertices + (i0 + g) * (size_t)V * 3;
                }
                m->panel(m, p, b, nb);
            }
        }
        for (size_t i = 0; i < n; i++) {
            for (int x = 0; x < NX; x++)
                memcpy(joints + (i * NOUT + J + x) * 3, vertices + (i * V + m->sel[x]) * 3,
                       3 * sizeof(float));
            if (m->NL) {
                const float *tr = scratch + i * bstride + fstride + 12 * J;
                float pv[9 * MAX_EXTRA];
                for (int l = 0; l < 3 * m->NL; l++)
                    for (int r = 0; r < 3; r++)
                        pv[3 * l + r] = vertices[(i * V + m->sel[NX + l]) * 3 + r] - tr[r];
                landmarks(m, pv, tr, joints + i * NOUT * 3);
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return CLIFF_OK;
}
