/* smoke.c - a plain C program using the cliff core through csrc/cliff.h alone (no Python).
 * Built and run by tests/test_c_api.py; prints "ok" and exits 0 when every check holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliff.h"

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "check failed at line %d: ", __LINE__);                        \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

/* ---- a stand-in ResNet-50 checkpoint: every official key, all weights zero ---------------
 * (BatchNorm variances one). Its features are zero and its regressor adds nothing, so the
 * network returns its initial state: identity joint rotations, zero betas, cam (0.9, 0, 0). */
enum { MAX_KEYS = 400 };
static char key_names[MAX_KEYS][96];
static cliff_array keys[MAX_KEYS];
static size_t n_keys;
static float *zeros, *ones;

static void key(const char *name, size_t ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                const float *data) {
    snprintf(key_names[n_keys], sizeof key_names[0], "%s", name);
    keys[n_keys] = (cliff_array){key_names[n_keys], ndim, {d0, d1, d2, d3}, data};
    n_keys++;
}

static void conv(const char *name, int64_t cout, int64_t cin, int64_t k) {
    char s[96];
    snprintf(s, sizeof s, "%s.weight", name);
    key(s, 4, cout, cin, k, k, zeros);
}

static void bn(const char *name, int64_t c) {
    static const char *f[5] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    char s[96];
    for (int i = 0; i < 5; i++) {
        snprintf(s, sizeof s, "%s.%s", name, f[i]);
        key(s, i == 4 ? 0 : 1, i == 4 ? 0 : c, 0, 0, 0, i == 3 ? ones : zeros);
    }
}

static void res50_keys(const float *init_pose, const float *init_cam) {
    static const int64_t planes[4] = {64, 128, 256, 512}, blocks[4] = {3, 4, 6, 3};
    char s[96];
    conv("encoder.conv1", 64, 3, 7);
    bn("encoder.bn1", 64);
    int64_t c = 64;
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < blocks[l]; b++) {
            int64_t p = planes[l];
#define SUB(x) (snprintf(s, sizeof s, "encoder.layer%d.%d.%s", l + 1, b, x), s)
            conv(SUB("conv1"), p, c, 1), bn(SUB("bn1"), p);
            conv(SUB("conv2"), p, p, 3), bn(SUB("bn2"), p);
            conv(SUB("conv3"), 4 * p, p, 1), bn(SUB("bn3"), 4 * p);
            if (b == 0) conv(SUB("downsample.0"), 4 * p, c, 1), bn(SUB("downsample.1"), 4 * p);
#undef SUB
            c = 4 * p;
        }
    key("init_pose", 2, 1, 144, 0, 0, init_pose);
    key("init_shape", 2, 1, 10, 0, 0, zeros);
    key("init_cam", 2, 1, 3, 0, 0, init_cam);
    static const struct { const char *name; int64_t out, in; } lin[5] = {
        {"fc1", 1024, 2048 + 3 + 157}, {"fc2", 1024, 1024}, {"decpose", 144, 1024},
        {"decshape", 10, 1024}, {"deccam", 3, 1024}};
    for (int i = 0; i < 5; i++) {
        snprintf(s, sizeof s, "%s.weight", lin[i].name);
        key(s, 2, lin[i].out, lin[i].in, 0, 0, zeros);
        snprintf(s, sizeof s, "%s.bias", lin[i].name);
        key(s, 1, lin[i].out, 0, 0, 0, zeros);
    }
}

/* ---- an SMPL-X body through cliff_body_create: sizes, queries, rest pose, landmarks ---- */
static int smplx_checks(void) {
    enum { V = CLIFF_SMPLX_NUM_VERTICES, J = CLIFF_SMPLX_NUM_JOINTS, P = CLIFF_SMPLX_NUM_POSE_FEATURES };
    int64_t parents[J];
    for (int j = 0; j < J; j++) parents[j] = j - 1; /* a chain: valid, in topological order */
    double *vt = calloc((size_t)V * 3, sizeof *vt), *pd = calloc((size_t)V * 3 * P, sizeof *pd);
    double *jr = calloc((size_t)J * V, sizeof *jr), *w = calloc((size_t)V * J, sizeof *w);
    float *verts = malloc(sizeof(float) * V * 3), joints[CLIFF_SMPLX_NUM_OUTPUT_JOINTS * 3];
    CHECK(vt && pd && jr && w && verts, "out of memory");
    for (int v = 0; v < V; v++) {
        vt[3 * v] = 1e-4 * v;
        w[(size_t)v * J] = 1.0;
    }
    for (int j = 0; j < J; j++) jr[(size_t)j * V + j] = 1.0;
    int32_t tri[3] = {10, 20, 30}, faces[3] = {0, 1, 2};
    double bary[3] = {0.2, 0.3, 0.5};
    cliff_body_params p = cliff_body_default_params();
    p.kind = CLIFF_BODY_SMPLX;
    p.num_vertices = V;
    p.num_joints = CLIFF_SMPL_NUM_JOINTS; /* wrong for SMPL-X: refused */
    p.num_pose_joints = CLIFF_SMPLX_NUM_BODY_POSE_JOINTS;
    p.v_template = vt; p.posedirs = pd; p.J_regressor = jr; p.weights = w; p.parents = parents;
    p.num_landmarks = 1; p.landmark_vertices = tri; p.landmark_weights = bary;
    p.num_faces = 1; p.faces = faces;
    cliff_body *body = NULL;
    CHECK(cliff_body_create(&p, &body) == CLIFF_EINVAL && body == NULL, "SMPL joint count accepted");
    p.num_joints = J;
    CHECK(cliff_body_create(&p, &body) == CLIFF_OK, "smplx create: %s", cliff_last_error());
    CHECK(cliff_body_get_kind(body) == CLIFF_BODY_SMPLX && cliff_body_num_vertices(body) == V &&
          cliff_body_num_joints(body) == J && cliff_body_num_pose_joints(body) == 22 &&
          cliff_body_num_output_joints(body) == 55 + 21 + 1 && cliff_body_num_faces(body) == 1 &&
          cliff_body_faces(body)[2] == 2 && cliff_smpl_num_betas(body) == 0, "smplx queries");
    float rot[22 * 9], transl[3] = {0.5f, -0.25f, 3.0f};
    for (int j = 0; j < 22; j++)
        for (int i = 0; i < 9; i++) rot[9 * j + i] = (i % 4 == 0) ? 1.0f : 0.0f;
    CHECK(cliff_smpl_forward(body, 1, rot, NULL, 0, transl, verts, joints, NULL) == CLIFF_OK,
          "smplx forward: %s", cliff_last_error());
    CHECK(fabs(verts[3 * 9000] - (0.9 + 0.5)) < 1e-5, "smplx vertex");
    CHECK(fabs(joints[3 * (55 + 21)] - (1e-4 * (0.2 * 10 + 0.3 * 20 + 0.5 * 30) + 0.5)) < 1e-6, "landmark");
    CHECK(cliff_smpl_fit_body(body, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL) == CLIFF_EINVAL,
          "fit_body accepted an SMPL-X body");
    cliff_smpl_free(body);
    free(vt); free(pd); free(jr); free(w); free(verts);
    return 0;
}

int main(void) {
    int ma, mi, pa;
    cliff_dnnl_version(&ma, &mi, &pa);
    CHECK(ma == 3, "oneDNN major %d", ma);
    CHECK(cliff_api_version() == CLIFF_API_VERSION, "header API %d, library API %d",
          CLIFF_API_VERSION, cliff_api_version());

    /* The official mean pose's root 6D decodes to diag(1, -1, -1). */
    const float x6[6] = {1.0f, 0.0f, 0.0f, -1.0000004768371582f, 0.0f, 1.5099581673894136e-07f};
    float R[9];
    cliff_rot6d_to_rotmat_f32(x6, 1, R);
    const float diag[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
    for (int i = 0; i < 9; i++) CHECK(fabsf(R[i] - diag[i]) < 1e-6f, "R[%d] = %g", i, R[i]);

    /* A minimal body: every vertex skinned to the root, template = a line of points. With the
     * identity pose and transl t, vertices = template + t and joints = regressed joints + t. */
    enum { V = CLIFF_SMPL_NUM_VERTICES, J = CLIFF_SMPL_NUM_JOINTS, P = CLIFF_SMPL_NUM_POSE_FEATURES };
    static const int64_t parents[J] = {-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                       9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21};
    double *vt = calloc((size_t)V * 3, sizeof *vt), *sd = calloc((size_t)V * 3, sizeof *sd);
    double *pd = calloc((size_t)V * 3 * P, sizeof *pd), *jr = calloc((size_t)J * V, sizeof *jr);
    double *w = calloc((size_t)V * J, sizeof *w);
    CHECK(vt && sd && pd && jr && w, "out of memory");
    for (int v = 0; v < V; v++) {
        vt[3 * v + 1] = 1e-4 * v;
        w[(size_t)v * J] = 1.0;
    }
    for (int j = 0; j < J; j++) jr[(size_t)j * V + j] = 1.0;

    cliff_smpl *model = NULL;
    int64_t bad[J];
    memcpy(bad, parents, sizeof bad);
    bad[5] = 7; /* a parent after its child: not a tree in SMPL order */
    cliff_status st = cliff_smpl_create(vt, sd, 1, pd, jr, w, bad, &model);
    CHECK(st == CLIFF_EINVAL && model == NULL && strlen(cliff_last_error()) > 0,
          "bad tree accepted (status %d)", (int)st);

    st = cliff_smpl_create(vt, sd, 1, pd, jr, w, parents, &model);
    CHECK(st == CLIFF_OK, "create: %s", cliff_last_error());
    float rot[J * 9], transl[3] = {0.5f, -0.25f, 3.0f};
    for (int j = 0; j < J; j++)
        for (int i = 0; i < 9; i++) rot[9 * j + i] = (i % 4 == 0) ? 1.0f : 0.0f;
    float *verts = malloc(sizeof(float) * V * 3), joints[CLIFF_SMPL_NUM_OUTPUT_JOINTS * 3];
    CHECK(verts, "out of memory");
    st = cliff_smpl_forward(model, 1, rot, NULL, 0, transl, verts, joints, NULL);
    CHECK(st == CLIFF_OK, "forward: %s", cliff_last_error());
    for (int v = 0; v < V; v += 97)
        for (int k = 0; k < 3; k++)
            CHECK(fabs(verts[3 * v + k] - (vt[3 * v + k] + transl[k])) < 1e-5, "vertex %d", v);
    for (int j = 0; j < J; j++)
        CHECK(fabs(joints[3 * j + 1] - (1e-4 * j + transl[1])) < 1e-5, "joint %d", j);

    /* the fitter's body: J0 = J_regressor v_template (here joint j sits on vertex j) */
    double J0[J * 3], Jdirs[J * 3];
    int64_t fb_parents[J];
    st = cliff_smpl_fit_body(model, 1, J0, Jdirs, fb_parents, NULL, NULL, NULL, NULL);
    CHECK(st == CLIFF_OK, "fit_body: %s", cliff_last_error());
    for (int j = 0; j < J; j++)
        CHECK(J0[3 * j + 1] == 1e-4 * j && fb_parents[j] == parents[j], "fit body joint %d", j);
    CHECK(cliff_smpl_fit_body(model, 2, J0, NULL, NULL, NULL, NULL, NULL, NULL) == CLIFF_EINVAL,
          "fit_body accepted more betas than the model has");

    /* the fitter's options: the depth prior (API 3) is off by default and must be >= 0 */
    cliff_fit_options fopt = cliff_fit_default_params();
    CHECK(fopt.w_depth == 0.0, "default w_depth %g", fopt.w_depth);
    const cliff_fit_body fbody = {.n_betas = 1, .n_vert = 0, .parents = fb_parents, .J0 = J0,
                                  .Jdirs = Jdirs};
    const cliff_fit_input fin = {.n = 0};
    const cliff_fit_output fout = {0};
    CHECK(cliff_fit_people(&fbody, &fopt, &fin, &fout) == CLIFF_OK, "fit of no people: %s",
          cliff_last_error());
    fopt.w_depth = -1.0;
    CHECK(cliff_fit_people(&fbody, &fopt, &fin, &fout) == CLIFF_EINVAL &&
              strstr(cliff_last_error(), "weights >= 0"), "negative w_depth accepted");

    /* the architecture tables: akeys without weights */
    const cliff_arch_key *akeys = NULL;
    size_t n_akeys = 0;
    st = cliff_net_arch_keys("res50", &akeys, &n_akeys);
    CHECK(st == CLIFF_OK && n_akeys == 331, "res50 keys: %zu (%s)", n_akeys, cliff_last_error());
    CHECK(strcmp(akeys[0].name, "init_pose") == 0 && akeys[0].shape[1] == CLIFF_NET_POSE6D, "first key");
    CHECK(strcmp(akeys[n_akeys - 1].name, "deccam.bias") == 0, "last key %s", akeys[n_akeys - 1].name);
    CHECK(cliff_net_arch_keys("vit", &akeys, &n_akeys) == CLIFF_EINVAL && n_akeys == 0, "unknown backbone");

    /* ---- the whole pipeline in one call, on the stand-in network and a 10-beta body ---- */
    zeros = calloc((size_t)2400000, sizeof *zeros);
    ones = malloc(2048 * sizeof *ones);
    double *sd10 = calloc((size_t)V * 3 * 10, sizeof *sd10);
    CHECK(zeros && ones && sd10, "out of memory");
    for (int i = 0; i < 2048; i++) ones[i] = 1.0f;
    float init_pose[144], init_cam[3] = {0.9f, 0.0f, 0.0f};
    for (int j = 0; j < 24; j++) {
        const float id6[6] = {1, 0, 0, 1, 0, 0}; /* columns (1,0,0), (0,1,0): the identity */
        memcpy(init_pose + 6 * j, id6, sizeof id6);
    }
    res50_keys(init_pose, init_cam);
    cliff_net *net = NULL;
    cliff_net_params np = cliff_net_default_params();
    CHECK(np.streams == CLIFF_STREAMS_FROM_ENV, "streams default %d", np.streams);
    np.streams = CLIFF_STREAMS_MAX + 1;
    st = cliff_net_create_with_params("res50", CLIFF_PRECISION_FP32, keys, n_keys, NULL, NULL, &np, &net);
    CHECK(st == CLIFF_EINVAL && net == NULL && strstr(cliff_last_error(), "params->streams"),
          "streams %d accepted: %s", np.streams, cliff_last_error());
    np.streams = 2;
    CHECK(np.branch_streams == CLIFF_BRANCH_STREAMS_FROM_ENV, "branch_streams default %d", np.branch_streams);
    np.branch_streams = CLIFF_BRANCH_STREAMS_ON + 1;
    st = cliff_net_create_with_params("res50", CLIFF_PRECISION_FP32, keys, n_keys, NULL, NULL, &np, &net);
    CHECK(st == CLIFF_EINVAL && net == NULL && strstr(cliff_last_error(), "params->branch_streams"),
          "branch_streams %d accepted: %s", np.branch_streams, cliff_last_error());
    np.branch_streams = CLIFF_BRANCH_STREAMS_ON;
    st = cliff_net_create_with_params("res50", CLIFF_PRECISION_FP32, keys, n_keys, NULL, NULL, &np, &net);
    CHECK(st == CLIFF_OK, "net: %s", cliff_last_error());
    cliff_net_set_num_threads(net, 4);
    CHECK(cliff_net_streams(net, 8) == 2 && cliff_net_streams(net, 1) == 1, "stream groups");
    CHECK(cliff_net_branch_streams(net, 1) == 0, "branch streams on a network without branches");
    cliff_net_set_num_threads(net, 0);
    cliff_smpl *body = NULL;
    st = cliff_smpl_create(vt, sd10, 10, pd, jr, w, parents, &body);
    CHECK(st == CLIFF_OK, "body: %s", cliff_last_error());
    cliff_estimator *est = NULL;
    cliff_estimator_params ep = cliff_estimator_default_params();
    CHECK(ep.n_iter == 3 && ep.resize == CLIFF_RESIZE_AUTO, "estimator defaults");
    st = cliff_estimator_create(net, model, &ep, &est); /* 1 shape component: refused */
    CHECK(st == CLIFF_EINVAL && est == NULL && strstr(cliff_last_error(), "10 shape"),
          "a 1-beta body accepted: %s", cliff_last_error());
    st = cliff_estimator_create(net, body, &ep, &est);
    CHECK(st == CLIFF_OK, "estimator: %s", cliff_last_error());

    enum { IH = 120, IW = 160 };
    static uint8_t image[IH * IW * 3];
    for (size_t i = 0; i < sizeof image; i++) image[i] = (uint8_t)(i * 7);
    const double xyxy[2][4] = {{40, 20, 100, 110}, {-10, 5, 60, 100}};
    cliff_frame frame = {.pixels = image, .height = IH, .width = IW, .bgr = false,
                         .xyxy = &xyxy[0][0], .n_boxes = 2,
                         .camera = cliff_camera_default(IW, IH)};
    CHECK(fabs(frame.camera.fx - 200.0) < 1e-12 && frame.camera.cx == 80.0, "default camera");
    float rotmat[2 * 216], pose[2 * 72], betas[2 * 10], t_full[2 * 3], joints2[2 * 45 * 3],
        uv[2 * 45 * 2], focal[2];
    double center[2 * 2], scale[2];
    float *verts2 = malloc(sizeof(float) * 2 * V * 3);
    CHECK(verts2, "out of memory");
    cliff_estimate_out out = {.rotmat = rotmat, .pose = pose, .betas = betas, .t_full = t_full,
                              .focal = focal, .vertices = verts2, .joints = joints2,
                              .joints2d = uv, .center = center, .scale = scale};
    st = cliff_estimate(est, &frame, &out);
    CHECK(st == CLIFF_OK, "estimate: %s", cliff_last_error());
    for (int i = 0; i < 2; i++) {
        /* identity rotations and zero betas: the initial state of the stand-in network */
        for (int k = 0; k < 216; k++)
            CHECK(rotmat[216 * i + k] == (k % 9 % 4 == 0 ? 1.0f : 0.0f), "rotmat[%d][%d]", i, k);
        for (int k = 0; k < 72; k++) CHECK(pose[72 * i + k] == 0.0f, "pose[%d][%d]", i, k);
        for (int k = 0; k < 10; k++) CHECK(betas[10 * i + k] == 0.0f, "betas[%d][%d]", i, k);
        /* the official crop -> full camera with s = 0.9, tx = ty = 0:
         * t = (2 (cx - W/2) / (b s), 2 (cy - H/2) / (b s), 2 f / (b s)) */
        double b = 200.0 * scale[i], bs = b * 0.9 + 1e-9, f = frame.camera.fx;
        double t[3] = {2 * (center[2 * i] - IW / 2.0) / bs, 2 * (center[2 * i + 1] - IH / 2.0) / bs, 2 * f / bs};
        CHECK(focal[i] == (float)f, "focal %g", (double)focal[i]);
        for (int k = 0; k < 3; k++)
            CHECK(fabs(t_full[3 * i + k] - t[k]) < 1e-4 * fabs(t[k]) + 1e-5, "t_full[%d][%d] = %g, expected %g",
                  i, k, (double)t_full[3 * i + k], t[k]);
        /* unposed body + t: vertex v at (0, 1e-4 v, 0) + t; joint j on vertex j; projection */
        for (int v = 0; v < V; v += 501)
            CHECK(fabs(verts2[(size_t)i * V * 3 + 3 * v + 1] - (1e-4 * v + t_full[3 * i + 1])) < 1e-5, "vertex %d", v);
        for (int j = 0; j < 24; j++) {
            const float *X = joints2 + (i * 45 + j) * 3;
            double u = f * X[0] / X[2] + frame.camera.cx, vv = f * X[1] / X[2] + frame.camera.cy;
            CHECK(fabs(uv[(i * 45 + j) * 2] - u) < 1e-3 && fabs(uv[(i * 45 + j) * 2 + 1] - vv) < 1e-3,
                  "joints2d[%d][%d]", i, j);
        }
    }
    const double inverted[4] = {100, 20, 40, 110}; /* x2 < x1 */
    frame.xyxy = inverted;
    frame.n_boxes = 1;
    st = cliff_estimate(est, &frame, &out);
    CHECK(st == CLIFF_EINVAL && strstr(cliff_last_error(), "xyxy[0]"), "inverted box: %s", cliff_last_error());
    cliff_estimator_free(est);
    cliff_smpl_free(body);
    cliff_net_free(net);
    free(verts2);
    free(sd10);
    free(zeros);
    free(ones);

    cliff_smpl_free(model);
    free(verts);
    free(vt);
    free(sd);
    free(pd);
    free(jr);
    free(w);
    if (smplx_checks()) return 1;
    printf("ok\n");
    return 0;
}
