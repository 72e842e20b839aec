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

int main(void) {
    int ma, mi, pa;
    cliff_dnnl_version(&ma, &mi, &pa);
    CHECK(ma == 3, "oneDNN major %d", ma);

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

    /* the architecture tables: keys without weights */
    const cliff_arch_key *keys = NULL;
    size_t n_keys = 0;
    st = cliff_net_arch_keys("res50", &keys, &n_keys);
    CHECK(st == CLIFF_OK && n_keys == 331, "res50 keys: %zu (%s)", n_keys, cliff_last_error());
    CHECK(strcmp(keys[0].name, "init_pose") == 0 && keys[0].shape[1] == CLIFF_NET_POSE6D, "first key");
    CHECK(strcmp(keys[n_keys - 1].name, "deccam.bias") == 0, "last key %s", keys[n_keys - 1].name);
    CHECK(cliff_net_arch_keys("vit", &keys, &n_keys) == CLIFF_EINVAL && n_keys == 0, "unknown backbone");

    cliff_smpl_free(model);
    free(verts);
    free(vt);
    free(sd);
    free(pd);
    free(jr);
    free(w);
    printf("ok\n");
    return 0;
}
