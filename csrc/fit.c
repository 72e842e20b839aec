/* fit.c - per-person Levenberg-Marquardt refinement of SMPL parameters against 2D keypoints
 * with a full-frame perspective camera (the annotator's step 2), analytic Jacobians.
 *
 * Parameters of one person: phi (24,3) axis-angle offsets, R_j = R0_j Exp(phi_j); betas (K);
 * t (3). Forward kinematics follows SMPL (docs/official.md#smpl-forward): rest joints J = J0 + Jdirs betas,
 * G_j = G_parent(j) [R_j, J_j - J_parent(j)], vertex joints by linear blend skinning of their
 * shaped + pose-blended rest positions.
 *
 * Derivatives (all exact, pose blend shapes included):
 *  - dR_j/dphi_j,a = R_j [J_r(phi_j) e_a]_x (J_r the right Jacobian of SO(3)); a local
 *    increment delta_j rotates the subtree of j about p_j by the global axis g = Rg_j delta_j,
 *    so a point y moved by joint j's subtree gets dy = g x (y - p_j).
 *  - joints: p_i = p_parent + Rg_parent (J_i - J_parent): dp_i/dbetas recursively.
 *  - vertex joints: x_v = sum_k w_vk (Rg_k (vp_v - J_k) + p_k), vp_v = vt_v + vdirs_v betas +
 *    vpose_v . (R_j - I)_{j>0}.
 *  - projection: u = f X/Z + cx, v = f Y/Z + cy.
 */
#include "common.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define NJ_SMPL 24
#define NPOSE 207

/* ---- small 3x3 helpers ---- */

static inline void mat3_mul(const double *A, const double *B, double *C) {
    double T[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            T[3 * r + c] = A[3 * r] * B[c] + A[3 * r + 1] * B[3 + c] + A[3 * r + 2] * B[6 + c];
    memcpy(C, T, sizeof T);
}

static inline void mat3_vec(const double *A, const double *x, double *y) {
    double t0 = A[0] * x[0] + A[1] * x[1] + A[2] * x[2];
    double t1 = A[3] * x[0] + A[4] * x[1] + A[5] * x[2];
    double t2 = A[6] * x[0] + A[7] * x[1] + A[8] * x[2];
    y[0] = t0, y[1] = t1, y[2] = t2;
}

static inline void cross3(const double *a, const double *b, double *c) {
    double c0 = a[1] * b[2] - a[2] * b[1];
    double c1 = a[2] * b[0] - a[0] * b[2];
    double c2 = a[0] * b[1] - a[1] * b[0];
    c[0] = c0, c[1] = c1, c[2] = c2;
}

/* Exp(phi) (Rodrigues) and the right Jacobian J_r(phi) = I - (1-cos)/th^2 K + (th-sin)/th^3 K^2,
 * K = [phi]_x; Taylor series for small angles. */
static void so3_exp_jr(const double *phi, double *R, double *Jr) {
    double th2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2], th = sqrt(th2);
    double a, b, c; /* R = I + a K + b K^2; Jr = I - b K + c K^2 */
    if (th < 1e-4) {
        a = 1.0 - th2 / 6.0;
        b = 0.5 - th2 / 24.0;
        c = 1.0 / 6.0 - th2 / 120.0;
    } else {
        a = sin(th) / th;
        b = (1.0 - cos(th)) / th2;
        c = (th - sin(th)) / (th2 * th);
    }
    double K[9] = {0, -phi[2], phi[1], phi[2], 0, -phi[0], -phi[1], phi[0], 0}, K2[9];
    mat3_mul(K, K, K2);
    for (int i = 0; i < 9; i++) {
        double I = (i % 4 == 0) ? 1.0 : 0.0;
        R[i] = I + a * K[i] + b * K2[i];
        if (Jr) Jr[i] = I - b * K[i] + c * K2[i];
    }
}

/* ---- forward kinematics with Jacobians for one person ---- */

typedef struct {
    size_t K, NV, NJ, P;
    double R[NJ_SMPL * 9];    /* local rotations R0 Exp(phi) */
    double Jr[NJ_SMPL * 9];   /* right Jacobians */
    double Rg[NJ_SMPL * 9];   /* global rotations */
    double Jrest[NJ_SMPL * 3];
    double p[NJ_SMPL * 3];    /* posed joints (without t) */
    double axes[NJ_SMPL * 9]; /* axes[j][:, a] = Rg_j Jr_j e_a (column a) */
    char desc[NJ_SMPL * NJ_SMPL]; /* desc[j*24+k] = k in subtree of j (j itself included) */
} fk_state;

/* Joints (NJ,3) with t added and their Jacobian dJ (NJ,3,P); dJ may be NULL. vneed (NV) flags
 * the vertex joints to compute (the others' rows of joints and dJ are left as they are), NULL =
 * all: a fit computes only the vertex joints its keypoints supervise. */
static void fk_eval(const cliff_fit_body *b, const double *R0, const double *phi,
                    const double *betas, const double *t, fk_state *s, double *joints,
                    double *dJ, double *scratch /* fit_scratch_doubles(NV) doubles */,
                    const unsigned char *vneed) {
    const size_t K = b->n_betas, NV = b->n_vert, NJ = NJ_SMPL + NV, P = 72 + K + 3;
    s->K = K, s->NV = NV, s->NJ = NJ, s->P = P;
    double E[9];
    for (int j = 0; j < NJ_SMPL; j++) {
        so3_exp_jr(phi + 3 * j, E, s->Jr + 9 * j);
        mat3_mul(R0 + 9 * j, E, s->R + 9 * j);
        const double *jd = b->Jdirs + (size_t)j * 3 * K;
        for (int k = 0; k < 3; k++) {
            double v = b->J0[3 * j + k];
            for (size_t l = 0; l < K; l++) v += jd[k * K + l] * betas[l];
            s->Jrest[3 * j + k] = v;
        }
    }
    for (int j = 0; j < NJ_SMPL; j++) {
        int64_t pa = b->parents[j];
        if (pa < 0) {
            memcpy(s->Rg, s->R, 9 * sizeof(double));
            memcpy(s->p, s->Jrest, 3 * sizeof(double));
        } else {
            double rel[3], d[3];
            for (int k = 0; k < 3; k++) rel[k] = s->Jrest[3 * j + k] - s->Jrest[3 * pa + k];
            mat3_mul(s->Rg + 9 * pa, s->R + 9 * j, s->Rg + 9 * j);
            mat3_vec(s->Rg + 9 * pa, rel, d);
            for (int k = 0; k < 3; k++) s->p[3 * j + k] = s->p[3 * pa + k] + d[k];
        }
        mat3_mul(s->Rg + 9 * j, s->Jr + 9 * j, s->axes + 9 * j);
    }
    memset(s->desc, 0, sizeof s->desc);
    for (int k = 0; k < NJ_SMPL; k++)
        for (int64_t j = k; j >= 0; j = b->parents[j]) s->desc[j * NJ_SMPL + k] = 1;

    for (int j = 0; j < NJ_SMPL; j++)
        for (int k = 0; k < 3; k++) joints[3 * j + k] = s->p[3 * j + k] + t[k];

    /* pose feature (R_j - I), j = 1..23 */
    double pf[NPOSE];
    for (int j = 1; j < NJ_SMPL; j++)
        for (int i = 0; i < 9; i++) pf[(j - 1) * 9 + i] = s->R[9 * j + i] - ((i % 4 == 0) ? 1.0 : 0.0);

    /* vertex joints; scratch: vp (NV,3), y (24,3) per vertex, T (9) */
    double *vp = scratch;
    for (size_t v = 0; v < NV; v++) {
        if (vneed && !vneed[v]) continue;
        /* the three coordinates' sums side by side: three independent chains, each summed in
         * its own order (template, shape, pose blend) */
        const double *vd = b->vdirs + v * 3 * K, *vq = b->vpose + v * 3 * NPOSE;
        double x0 = b->vt[3 * v], x1 = b->vt[3 * v + 1], x2 = b->vt[3 * v + 2];
        for (size_t l = 0; l < K; l++) {
            x0 += vd[l] * betas[l];
            x1 += vd[K + l] * betas[l];
            x2 += vd[2 * K + l] * betas[l];
        }
        for (int q = 0; q < NPOSE; q++) {
            x0 += vq[q] * pf[q];
            x1 += vq[NPOSE + q] * pf[q];
            x2 += vq[2 * NPOSE + q] * pf[q];
        }
        vp[3 * v] = x0, vp[3 * v + 1] = x1, vp[3 * v + 2] = x2;
        const double *w = b->vweights + v * NJ_SMPL;
        double x[3] = {0, 0, 0};
        for (int j = 0; j < NJ_SMPL; j++) {
            if (w[j] == 0.0) continue;
            double d[3], y[3];
            for (int k = 0; k < 3; k++) d[k] = vp[3 * v + k] - s->Jrest[3 * j + k];
            mat3_vec(s->Rg + 9 * j, d, y);
            for (int k = 0; k < 3; k++) x[k] += w[j] * (y[k] + s->p[3 * j + k]);
        }
        for (int k = 0; k < 3; k++) joints[3 * (NJ_SMPL + v) + k] = x[k] + t[k];
    }
    if (!dJ) return;

    memset(dJ, 0, NJ_SMPL * 3 * P * sizeof(double)); /* vertex joints' rows are all written */
    /* SMPL joints: rotations of strict ancestors */
    for (int i = 0; i < NJ_SMPL; i++) {
        double *Di = dJ + (size_t)i * 3 * P;
        for (int64_t j = b->parents[i]; j >= 0; j = b->parents[j]) {
            double r[3];
            for (int k = 0; k < 3; k++) r[k] = s->p[3 * i + k] - s->p[3 * j + k];
            for (int a = 0; a < 3; a++) {
                double g[3] = {s->axes[9 * j + a], s->axes[9 * j + 3 + a], s->axes[9 * j + 6 + a]}, c[3];
                cross3(g, r, c);
                for (int k = 0; k < 3; k++) Di[k * P + 3 * j + a] = c[k];
            }
        }
    }
    /* SMPL joints: betas, recursively dp_i = dp_parent + Rg_parent (Jdirs_i - Jdirs_parent) */
    for (int i = 0; i < NJ_SMPL; i++) {
        double *Di = dJ + (size_t)i * 3 * P;
        int64_t pa = b->parents[i];
        const double *jd = b->Jdirs + (size_t)i * 3 * K;
        for (size_t l = 0; l < K; l++) {
            if (pa < 0) {
                for (int k = 0; k < 3; k++) Di[k * P + 72 + l] = jd[k * K + l];
            } else {
                const double *jp = b->Jdirs + (size_t)pa * 3 * K, *Dp = dJ + (size_t)pa * 3 * P;
                double d[3] = {jd[l] - jp[l], jd[K + l] - jp[K + l], jd[2 * K + l] - jp[2 * K + l]}, e[3];
                mat3_vec(s->Rg + 9 * pa, d, e);
                for (int k = 0; k < 3; k++) Di[k * P + 72 + l] = Dp[k * P + 72 + l] + e[k];
            }
        }
        for (int k = 0; k < 3; k++) Di[k * P + 72 + K + k] = 1.0;
    }
    /* vertex joints */
    double *y = scratch + 3 * NV; /* (24,3) */
    for (size_t v = 0; v < NV; v++) {
        if (vneed && !vneed[v]) continue;
        const double *w = b->vweights + v * NJ_SMPL;
        double *Dv = dJ + (NJ_SMPL + v) * 3 * P;
        double T[9] = {0};
        int wk[NJ_SMPL], nw = 0; /* the joints that skin v (w != 0), in index order */
        for (int j = 0; j < NJ_SMPL; j++) {
            if (w[j] == 0.0) continue;
            wk[nw++] = j;
            double d[3];
            for (int k = 0; k < 3; k++) d[k] = vp[3 * v + k] - s->Jrest[3 * j + k];
            mat3_vec(s->Rg + 9 * j, d, y + 3 * j);
            for (int k = 0; k < 3; k++) y[3 * j + k] += s->p[3 * j + k];
            for (int i = 0; i < 9; i++) T[i] += w[j] * s->Rg[9 * j + i];
        }
        for (int j = 0; j < NJ_SMPL; j++) {
            /* a = sum_{k in sub(j)} w_vk (y_k - p_j) */
            double a[3] = {0, 0, 0};
            int any = 0;
            for (int n = 0; n < nw; n++) {
                const int k = wk[n];
                if (!s->desc[j * NJ_SMPL + k]) continue;
                any = 1;
                for (int c = 0; c < 3; c++) a[c] += w[k] * (y[3 * k + c] - s->p[3 * j + c]);
            }
            for (int q = 0; q < 3; q++) {
                double col[3] = {0, 0, 0};
                if (any) {
                    double g[3] = {s->axes[9 * j + q], s->axes[9 * j + 3 + q], s->axes[9 * j + 6 + q]};
                    cross3(g, a, col);
                }
                if (j > 0) {
                    /* pose blend: dR_j = R_j [delta]_x, delta = Jr_j e_q */
                    double dl[3] = {s->Jr[9 * j + q], s->Jr[9 * j + 3 + q], s->Jr[9 * j + 6 + q]};
                    double Kd[9] = {0, -dl[2], dl[1], dl[2], 0, -dl[0], -dl[1], dl[0], 0}, dR[9];
                    mat3_mul(s->R + 9 * j, Kd, dR);
                    const double *vq = b->vpose + v * 3 * NPOSE + (size_t)(j - 1) * 9;
                    double dvp[3], e[3];
                    for (int k = 0; k < 3; k++) {
                        double acc = 0;
                        for (int i = 0; i < 9; i++) acc += vq[k * NPOSE + i] * dR[i];
                        dvp[k] = acc;
                    }
                    mat3_vec(T, dvp, e);
                    for (int k = 0; k < 3; k++) col[k] += e[k];
                }
                for (int k = 0; k < 3; k++) Dv[k * P + 3 * j + q] = col[k];
            }
        }
        /* betas: sum_k w_vk (Rg_k (vdirs_v - Jdirs_k) + dp_k/dbetas) */
        const double *vd = b->vdirs + v * 3 * K;
        for (size_t l = 0; l < K; l++) {
            double acc[3] = {0, 0, 0};
            for (int n = 0; n < nw; n++) {
                const int j = wk[n];
                const double *jd = b->Jdirs + (size_t)j * 3 * K, *Dj = dJ + (size_t)j * 3 * P;
                double d[3] = {vd[l] - jd[l], vd[K + l] - jd[K + l], vd[2 * K + l] - jd[2 * K + l]}, e[3];
                mat3_vec(s->Rg + 9 * j, d, e);
                for (int k = 0; k < 3; k++) acc[k] += w[j] * (e[k] + Dj[k * P + 72 + l]);
            }
            for (int k = 0; k < 3; k++) Dv[k * P + 72 + l] = acc[k];
        }
        for (int k = 0; k < 3; k++)
            for (int c = 0; c < 3; c++) Dv[k * P + 72 + K + c] = k == c ? 1.0 : 0.0;
    }
}

/* Project joints (NJ,3) -> uv (NJ,2) and duv (NJ,2,P) from dJ (may be NULL). Returns the number
 * of points with Z <= zmin (their uv and duv are set to 0). vneed: fk_eval's (the vertex joints
 * it skipped are skipped here too), or NULL. */
static int project(const double *joints, const double *dJ, size_t NJ, size_t P, const double *cam,
                   double zmin, double *uv, double *duv, const unsigned char *vneed) {
    int bad = 0;
    for (size_t i = 0; i < NJ; i++) {
        if (vneed && i >= NJ_SMPL && !vneed[i - NJ_SMPL]) continue;
        double X = joints[3 * i], Y = joints[3 * i + 1], Z = joints[3 * i + 2];
        if (!(Z > zmin)) {
            bad++;
            uv[2 * i] = uv[2 * i + 1] = 0.0;
            if (duv) memset(duv + i * 2 * P, 0, 2 * P * sizeof(double));
            continue;
        }
        double iz = 1.0 / Z, f = cam[0];
        uv[2 * i] = f * X * iz + cam[1];
        uv[2 * i + 1] = f * Y * iz + cam[2];
        if (!duv) continue;
        const double *D = dJ + i * 3 * P;
        double *O = duv + i * 2 * P;
        double ax = f * iz, az = -f * X * iz * iz, bz = -f * Y * iz * iz;
        for (size_t q = 0; q < P; q++) {
            O[q] = ax * D[q] + az * D[2 * P + q];
            O[P + q] = ax * D[P + q] + bz * D[2 * P + q];
        }
    }
    return bad;
}

static size_t fit_scratch_doubles(size_t NV) { return 3 * NV + 3 * NJ_SMPL; }

/* parents[0] < 0 and 0 <= parents[j] < j: forward kinematics in index order, no cycles. */
static cliff_status check_body(const cliff_fit_body *body, const char *fn) {
    if (!body->parents || !body->J0 || !body->Jdirs ||
        (body->n_vert && (!body->vt || !body->vdirs || !body->vpose || !body->vweights)))
        return cliff_fail(CLIFF_EINVAL, "%s: body has NULL arrays", fn);
    for (int j = 0; j < NJ_SMPL; j++)
        if (j == 0 ? body->parents[0] >= 0 : (body->parents[j] < 0 || body->parents[j] >= j))
            return cliff_fail(CLIFF_EINVAL, "%s: parents must have parents[0] < 0 and "
                                            "0 <= parents[j] < j (bad entry %d)", fn, j);
    return CLIFF_OK;
}

cliff_status cliff_fit_jacobian(const cliff_fit_body *body, const double *R0, const double *phi,
                                const double *betas, const double *t, const double *cam,
                                double *joints, double *uv, double *djoints, double *duv) {
    if (!body || !R0 || !phi || !betas || !t || !cam || !joints || !uv || !djoints || !duv)
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_jacobian: NULL argument");
    cliff_status st = check_body(body, "cliff_fit_jacobian");
    if (st != CLIFF_OK) return st;
    fk_state *s = cliff_alloc(sizeof *s);
    double *scratch = cliff_alloc(fit_scratch_doubles(body->n_vert) * sizeof(double));
    if (!s || !scratch) {
        cliff_free(s);
        cliff_free(scratch);
        return cliff_fail(CLIFF_ENOMEM, "cliff_fit_jacobian: out of memory");
    }
    fk_eval(body, R0, phi, betas, t, s, joints, djoints, scratch, NULL);
    project(joints, djoints, s->NJ, s->P, cam, 0.0, uv, duv, NULL);
    cliff_free(s);
    cliff_free(scratch);
    return CLIFF_OK;
}

/* ---- LM for one person ---- */

typedef struct {
    const cliff_fit_body *b;
    const cliff_fit_options *o;
    const double *R0, *betas0, *t0, *cam, *kp;
    const int64_t *kp_joint;
    const unsigned char *vneed; /* (n_vert) the vertex joints a keypoint supervises */
    size_t M;
    double inv_sigma; /* 1 / (sigma_rel * norm) */
    const double *gmm_prec; /* gmm_precisions(o) when o has a pose prior (Jacobians), or NULL */
    /* work */
    fk_state *s;
    double *scratch, *joints, *uv, *dJ, *duv;
} person;

static double rho(cliff_robust_kind kind, double c, double sq, double *drho) {
    double c2 = c * c;
    switch (kind) {
    case CLIFF_ROBUST_GEMAN_MCCLURE: {
        double d = sq + c2;
        if (drho) *drho = c2 * c2 / (d * d);
        return c2 * sq / d;
    }
    case CLIFF_ROBUST_HUBER: {
        double r = sqrt(sq);
        if (r <= c) {
            if (drho) *drho = 1.0;
            return sq;
        }
        if (drho) *drho = c / r;
        return 2.0 * c * r - c2;
    }
    default:
        if (drho) *drho = 1.0;
        return sq;
    }
}

#define GMM_D 69 /* body joints 1..23, 3 values each */

/* J_r(a)^-1 = I + K/2 + c K^2, K = [a]_x, c = 1/th^2 - (1 + cos th) / (2 th sin th): the
 * derivative of Log at Exp(a) with respect to a right increment, d Log(R Exp(e))/de at e = 0. */
static void so3_jr_inv(const double *a, double *Ji) {
    double th2 = a[0] * a[0] + a[1] * a[1] + a[2] * a[2], th = sqrt(th2), c;
    if (th < 1e-4) {
        c = 1.0 / 12.0 + th2 / 720.0;
    } else {
        if (th > 3.14159265358979 - 1e-6) th = 3.14159265358979 - 1e-6, th2 = th * th; /* Log is singular at pi */
        c = 1.0 / th2 - (1.0 + cos(th)) / (2.0 * th * sin(th));
    }
    double K[9] = {0, -a[2], a[1], a[2], 0, -a[0], -a[1], a[0], 0}, K2[9];
    mat3_mul(K, K, K2);
    for (int i = 0; i < 9; i++) Ji[i] = ((i % 4 == 0) ? 1.0 : 0.0) + 0.5 * K[i] + c * K2[i];
}

/* The precisions P_k = L_k L_k^T (gmm_n, 69, 69) of the options' pose prior, for the
 * Gauss-Newton blocks; cliff_alloc'd (NULL when out of memory). */
static double *gmm_precisions(const cliff_fit_options *o) {
    double *P = cliff_alloc(o->gmm_n * GMM_D * GMM_D * sizeof(double));
    if (!P) return NULL;
    for (size_t k = 0; k < o->gmm_n; k++) {
        const double *L = o->gmm_prec_chol + k * GMM_D * GMM_D;
        double *Pk = P + k * GMM_D * GMM_D;
        for (int r = 0; r < GMM_D; r++)
            for (int c = 0; c <= r; c++) {
                double v = 0.0;
                for (int e = 0; e <= c; e++) v += L[r * GMM_D + e] * L[c * GMM_D + e];
                Pk[r * GMM_D + c] = Pk[c * GMM_D + r] = v;
            }
    }
    return P;
}

/* The pose prior of the options (cliff.h, cliff_fit_options.w_gmm): w min_k (|L_k^T (a - mu_k)|^2
 * + c_k) over a = Log of the local rotations of joints 1..23 in s->R (fk_eval's). With H (and
 * prec = gmm_precisions(o)), adds the Gauss-Newton blocks of the residual
 * r = sqrt(w) L_k^T (a - mu_k) (k the best component): J = sqrt(w) L_k^T D with D block diagonal,
 * D_j = da_j/dphi_j = J_r(a_j)^-1 J_r(phi_j) (R0 Exp(phi + d) = R0 Exp(phi) Exp(J_r(phi) d)),
 * so J^T J = w D^T P_k D (3x3 blocks D_i^T P_k[i,j] D_j) and J^T r = w D^T P_k (a - mu_k). */
static double gmm_term(const cliff_fit_options *o, const double *prec, const fk_state *s,
                       double *H, double *g, size_t P) {
    double a[GMM_D], best = INFINITY;
    size_t kb = 0;
    for (int j = 1; j < NJ_SMPL; j++) cliff_rotmat_to_axis_angle_f64(s->R + 9 * j, 1, a + 3 * (j - 1));
    for (size_t k = 0; k < o->gmm_n; k++) {
        const double *mu = o->gmm_means + k * GMM_D, *L = o->gmm_prec_chol + k * GMM_D * GMM_D;
        double d[GMM_D], q = o->gmm_const[k];
        for (int i = 0; i < GMM_D; i++) d[i] = a[i] - mu[i];
        for (int r = 0; r < GMM_D; r++) { /* (L^T d)_r = sum_{c >= r} L[c][r] d_c */
            double v = 0.0;
            for (int c = r; c < GMM_D; c++) v += L[c * GMM_D + r] * d[c];
            q += v * v;
        }
        if (q < best) best = q, kb = k;
    }
    if (!H) return o->w_gmm * best;
    const double *mu = o->gmm_means + kb * GMM_D, *Pk = prec + kb * GMM_D * GMM_D;
    const double w = o->w_gmm;
    double d[GMM_D], v[GMM_D], D[23 * 9];
    for (int i = 0; i < GMM_D; i++) d[i] = a[i] - mu[i];
    for (int r = 0; r < GMM_D; r++) {
        double t = 0.0;
        for (int c = 0; c < GMM_D; c++) t += Pk[r * GMM_D + c] * d[c];
        v[r] = w * t;
    }
    for (int j = 1; j < NJ_SMPL; j++) {
        double Ji[9];
        so3_jr_inv(a + 3 * (j - 1), Ji);
        mat3_mul(Ji, s->Jr + 9 * j, D + 9 * (j - 1));
    }
    for (int i = 0; i < 23; i++) {
        const double *Di = D + 9 * i;
        for (int b = 0; b < 3; b++) /* g_i = D_i^T v_i */
            g[3 + 3 * i + b] += Di[b] * v[3 * i] + Di[3 + b] * v[3 * i + 1] + Di[6 + b] * v[3 * i + 2];
        for (int j = i; j < 23; j++) { /* H_ij = w D_i^T P[i,j] D_j (upper blocks) */
            const double *Dj = D + 9 * j;
            double T[9], B[9];
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) {
                    const double *pr = Pk + (3 * i + r) * GMM_D + 3 * j;
                    T[3 * r + c] = pr[0] * Dj[c] + pr[1] * Dj[3 + c] + pr[2] * Dj[6 + c];
                }
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++)
                    B[3 * r + c] = w * (Di[r] * T[c] + Di[3 + r] * T[3 + c] + Di[6 + r] * T[6 + c]);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) {
                    size_t q = 3 + 3 * i + r, u = 3 + 3 * j + c;
                    if (u >= q) H[q * P + u] += B[3 * r + c]; /* the fitter fills H's upper part */
                }
        }
    }
    return o->w_gmm * best;
}

/* The upright prior of the options (cliff.h, cliff_fit_options.w_up): w_up (u_x^2 + u_z^2) /
 * up_sigma^2 with u = R_0 e_y (column 1 of the root rotation R = R0_0 Exp(phi_0)); Jr = J_r(phi_0).
 * With H, adds the Gauss-Newton blocks of the residual r = s (u_x, u_z), s = sqrt(w_up) / up_sigma:
 * R0 Exp(phi + d) = R Exp(J_r d), so du/dd = -R [e_y]_x J_r = [c2, 0, -c0] J_r (c_k the columns
 * of R), J = s (rows x and z of that), J^T J and J^T r into the root's 3x3 block (upper part). */
static double upright_term(const cliff_fit_options *o, const double *R, const double *Jr,
                           double *H, double *g, size_t P) {
    const double s2 = o->w_up / (o->up_sigma * o->up_sigma);
    const double ux = R[1], uz = R[7];
    if (H) {
        double A[2][3]; /* rows: d u_x / d phi_0, d u_z / d phi_0 */
        for (int r = 0; r < 2; r++) {
            const double *Rr = R + 3 * (r ? 2 : 0); /* row x or z of R */
            const double m[3] = {Rr[2], 0.0, -Rr[0]};
            for (int c = 0; c < 3; c++) A[r][c] = m[0] * Jr[c] + m[1] * Jr[3 + c] + m[2] * Jr[6 + c];
        }
        for (int a = 0; a < 3; a++) {
            g[a] += s2 * (A[0][a] * ux + A[1][a] * uz);
            for (int b = a; b < 3; b++) H[a * P + b] += s2 * (A[0][a] * A[0][b] + A[1][a] * A[1][b]);
        }
    }
    return s2 * (ux * ux + uz * uz);
}

/* The Gauss-Newton matrix and the LM's linear algebra work on the upper triangle of symmetric
 * (P,P) matrices, row-major. Their inner loops are contiguous axpys over a row, which the
 * compiler vectorizes without reordering any sum: every entry still receives its terms in the
 * same order as in the textbook forms (the Cholesky factor's subtractions in the order k = 0, 1,
 * ...), so the results are the same, bit for bit, on every ISA. Compiled for AVX-512, AVX2 and
 * the baseline; -std=c11 keeps floating-point contraction off, so the AVX-512 clone does not
 * fuse a multiply and a subtraction into one FMA either (docs/annotate.md, speed). */
#define FIT_VECTOR __attribute__((target_clones("avx512f", "avx2", "default")))

/* One point's Gauss-Newton terms: H (upper triangle) += w D^T D, g += w D^T e for its Jacobian
 * D = duv (2,P) and residual e = (eu, ev) pixels. Only the parameters that move the point (a
 * joint: its ancestors' rotations, betas, t) have nonzero rows; each such row's update is a
 * contiguous loop over the columns, which vectorizes. */
FIT_VECTOR static void gauss_newton_point(double *H, double *g, const double *duv, double w,
                                          double eu, double ev, size_t P) {
    const double *Du = duv, *Dv = duv + P;
    for (size_t q = 0; q < P; q++) {
        const double aq = Du[q], bq = Dv[q];
        if (aq == 0.0 && bq == 0.0) continue;
        g[q] += w * (aq * eu + bq * ev);
        double *Hq = H + q * P;
        for (size_t r = q; r < P; r++) Hq[r] += w * (aq * Du[r] + bq * Dv[r]);
    }
}

/* Total cost at x = [phi (72), betas (K), t (3)]; INFINITY if a used point is behind the camera.
 * With grad != NULL also fills the Gauss-Newton system H (P,P) (upper triangle), g (P) (IRLS
 * weights). */
static double person_cost(person *pp, const double *x, double *H, double *g, double *err_px,
                          double *data_out) {
    const cliff_fit_body *b = pp->b;
    const cliff_fit_options *o = pp->o;
    const size_t K = b->n_betas, P = 72 + K + 3, NJ = NJ_SMPL + b->n_vert;
    const double *phi = x, *be = x + 72, *t = x + 72 + K;
    fk_eval(b, pp->R0, phi, be, t, pp->s, pp->joints, H ? pp->dJ : NULL, pp->scratch, pp->vneed);
    project(pp->joints, H ? pp->dJ : NULL, NJ, P, pp->cam, 1e-6, pp->uv, H ? pp->duv : NULL,
            pp->vneed);
    if (H) {
        memset(H, 0, P * P * sizeof(double));
        memset(g, 0, P * sizeof(double));
    }
    double cost = 0.0, esum = 0.0, csum = 0.0;
    for (size_t m = 0; m < pp->M; m++) {
        int64_t jj = pp->kp_joint[m];
        double conf = pp->kp[3 * m + 2];
        if (jj < 0 || !(conf > 0.0)) continue;
        if (!(pp->joints[3 * jj + 2] > 1e-6)) return INFINITY;
        double eu = pp->uv[2 * jj] - pp->kp[3 * m], ev = pp->uv[2 * jj + 1] - pp->kp[3 * m + 1];
        double ru = eu * pp->inv_sigma, rv = ev * pp->inv_sigma, dr;
        cost += conf * rho(o->robust, o->robust_scale, ru * ru + rv * rv, &dr);
        esum += conf * sqrt(eu * eu + ev * ev);
        csum += conf;
        if (H) {
            double w = conf * dr * pp->inv_sigma * pp->inv_sigma;
            gauss_newton_point(H, g, pp->duv + (size_t)jj * 2 * P, w, eu, ev, P);
        }
    }
    if (err_px) *err_px = csum > 0 ? esum / csum : 0.0;
    if (data_out) *data_out = cost;
    /* priors: cost_k = w_k |r_k|^2 with r linear in x */
    for (size_t q = 0; q < 72; q++) {
        double w = q < 3 ? o->w_root : o->w_pose;
        cost += w * x[q] * x[q];
        if (H) {
            H[q * P + q] += w;
            g[q] += w * x[q];
        }
    }
    for (size_t l = 0; l < K; l++) {
        double d = be[l] - pp->betas0[l];
        cost += o->w_betas_init * d * d + o->w_shape * be[l] * be[l];
        if (H) {
            H[(72 + l) * P + 72 + l] += o->w_betas_init + o->w_shape;
            g[72 + l] += o->w_betas_init * d + o->w_shape * be[l];
        }
    }
    for (int k = 0; k < 3; k++) {
        double d = t[k] - pp->t0[k];
        cost += o->w_transl * d * d;
        if (H) {
            H[(72 + K + k) * P + 72 + K + k] += o->w_transl;
            g[72 + K + k] += o->w_transl * d;
        }
    }
    if (o->w_depth > 0) {
        /* r = sqrt(w_depth) ln(t_z / t0_z): a log-normal on the depth relative to the start's */
        if (!(t[2] > 0.0) || !(pp->t0[2] > 0.0)) return INFINITY;
        const double l = log(t[2] / pp->t0[2]);
        cost += o->w_depth * l * l;
        if (H) {
            const size_t z = 72 + K + 2;
            H[z * P + z] += o->w_depth / (t[2] * t[2]);
            g[z] += o->w_depth * l / t[2];
        }
    }
    if (o->gmm_n && o->w_gmm > 0) cost += gmm_term(o, pp->gmm_prec, pp->s, H, g, P);
    if (o->w_up > 0) cost += upright_term(o, pp->s->R, pp->s->Jr, H, g, P);
    return cost;
}

/* Row k of the upper Cholesky factor, in place: A's row k holds its updates from rows < k. */
static inline int cholesky_row(double *Uk, size_t k, size_t P) {
    double d = Uk[k];
    if (!(d > 0.0)) return -1;
    d = sqrt(d);
    Uk[k] = d;
    for (size_t j = k + 1; j < P; j++) Uk[j] /= d;
    return 0;
}

/* Upper Cholesky factor of a symmetric positive definite A (P,P) (upper triangle read), in place
 * in the upper triangle. 0 = ok. Four rows at a time: each row of the block gets the updates of
 * the block's rows above it and is factored, then every row below gets the four updates in one
 * pass (in the rows' order), a quarter of the memory traffic of one pass per row. */
FIT_VECTOR static int cholesky_factor(double *A, size_t P) {
    for (size_t k = 0; k < P; k += 4) {
        const size_t nb = P - k < 4 ? P - k : 4;
        for (size_t r = 0; r < nb; r++) {
            double *Ur = A + (k + r) * P;
            for (size_t q = 0; q < r; q++) {
                const double *Uq = A + (k + q) * P, u = Uq[k + r];
                for (size_t j = k + r; j < P; j++) Ur[j] -= u * Uq[j];
            }
            if (cholesky_row(Ur, k + r, P) != 0) return -1;
        }
        if (nb < 4) break; /* the last rows */
        const double *U0 = A + k * P, *U1 = U0 + P, *U2 = U1 + P, *U3 = U2 + P;
        for (size_t i = k + 4; i < P; i++) {
            double *Ai = A + i * P;
            const double u0 = U0[i], u1 = U1[i], u2 = U2[i], u3 = U3[i];
            for (size_t j = i; j < P; j++)
                Ai[j] = (((Ai[j] - u0 * U0[j]) - u1 * U1[j]) - u2 * U2[j]) - u3 * U3[j];
        }
    }
    return 0;
}

/* Z (P, m) row-major := U^-T Z for the upper factor U (P,P): m right-hand sides at once, each
 * row's update of the rows below a contiguous axpy over the m columns. */
FIT_VECTOR static void chol_forward(const double *U, size_t P, double *Z, size_t m) {
    for (size_t k = 0; k < P; k++) {
        double *Zk = Z + k * m;
        const double d = U[k * P + k];
        for (size_t c = 0; c < m; c++) Zk[c] /= d;
        for (size_t i = k + 1; i < P; i++) {
            const double u = U[k * P + i];
            double *Zi = Z + i * m;
            for (size_t c = 0; c < m; c++) Zi[c] -= u * Zk[c];
        }
    }
}

/* Posterior spread of the pelvis-relative SMPL joints at the result: with the objective read as
 * -2 log of a density, the Gauss-Newton matrix H (the fitter's, g = J^T r convention) is the
 * inverse covariance of the parameters, so cov(J_i - J_0) = D H^{-1} D^T with D the Jacobian of
 * J_i - J_0, and trace cov = |U^-T D^T|^2 (U^T U = H). Returns sqrt(mean over joints 1..23 of
 * trace cov) in metres (-1 if H is not positive definite). H's upper triangle is read; A (P,P)
 * and Z (P, 69) are scratch. */
static double joint_spread(const double *H, const double *dJ, size_t P, double *A, double *Z) {
    const size_t m = 3 * (NJ_SMPL - 1);
    memcpy(A, H, P * P * sizeof(double));
    for (size_t q = 0; q < P; q++) A[q * P + q] += 1e-9;
    if (cholesky_factor(A, P) != 0) return -1.0;
    for (size_t c = 0; c < m; c++) { /* column c = row k of joint i's D_i - D_0 */
        const double *Di = dJ + (size_t)(c + 3) * P, *D0 = dJ + (size_t)(c % 3) * P;
        for (size_t q = 0; q < P; q++) Z[q * m + c] = Di[q] - D0[q];
    }
    chol_forward(A, P, Z, m);
    double tr = 0.0;
    for (size_t c = 0; c < m; c++) {
        double acc = 0.0;
        for (size_t q = 0; q < P; q++) acc += Z[q * m + c] * Z[q * m + c];
        tr += acc;
    }
    return sqrt(tr / (NJ_SMPL - 1));
}

/* Solve A x = y for symmetric positive definite A (P,P) (upper triangle read) by Cholesky, in
 * place in A. 0 = ok. */
static int cholesky_solve(double *A, size_t P, const double *y, double *x) {
    if (cholesky_factor(A, P) != 0) return -1;
    memcpy(x, y, P * sizeof(double));
    chol_forward(A, P, x, 1);
    for (size_t i = P; i-- > 0;) {
        const double *Ui = A + i * P;
        double v = x[i];
        for (size_t k = i + 1; k < P; k++) v -= Ui[k] * x[k];
        x[i] = v / Ui[i];
    }
    return 0;
}

static int all_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Returns a CLIFF_FIT_* status; x holds the start on entry and the result on return;
 * st = [err0, err1, iters, converged]; q (may be NULL) = [objective at the start, final
 * objective, final data term, final prior term, posterior joint spread (m)]. */
static int fit_one(person *pp, double *x, double *st, double *q, double *work) {
    const size_t K = pp->b->n_betas, P = 72 + K + 3;
    double *H = work, *A = H + P * P, *g = A + P * P, *dx = g + P, *xn = dx + P;
    int used = 0;
    for (size_t m = 0; m < pp->M; m++)
        if (pp->kp_joint[m] >= 0 && pp->kp[3 * m + 2] > 0.0) used++;
    if (!used) return CLIFF_FIT_NO_KEYPOINTS;
    double err0, err1;
    double cost = person_cost(pp, x, H, g, &err0, NULL);
    if (!isfinite(cost)) return CLIFF_FIT_BEHIND_CAMERA;
    st[0] = err0;
    if (q) q[0] = cost;
    double lambda = 1e-3;
    size_t it = 0;
    int converged = 0;
    for (it = 0; it < pp->o->max_iter && !converged; it++) {
        int accepted = 0;
        for (int tries = 0; tries < 12 && !accepted; tries++) {
            memcpy(A, H, P * P * sizeof(double));
            for (size_t q = 0; q < P; q++) A[q * P + q] += lambda * (H[q * P + q] + 1e-9);
            if (cholesky_solve(A, P, g, dx) != 0) {
                lambda *= 10.0;
                continue;
            }
            for (size_t q = 0; q < P; q++) xn[q] = x[q] - dx[q];
            double cn = person_cost(pp, xn, NULL, NULL, NULL, NULL);
            if (isfinite(cn) && cn <= cost) {
                double rel = (cost - cn) / (cost > 1e-300 ? cost : 1e-300);
                memcpy(x, xn, P * sizeof(double));
                cost = person_cost(pp, x, H, g, NULL, NULL);
                lambda = lambda / 3.0 > 1e-9 ? lambda / 3.0 : 1e-9;
                accepted = 1;
                if (rel < pp->o->tol) converged = 1;
            } else {
                lambda *= 4.0;
            }
        }
        if (!accepted) converged = 1; /* no decrease possible at any damping: a minimum */
    }
    double data1, cost1 = person_cost(pp, x, NULL, NULL, &err1, &data1);
    if (!all_finite(x, P)) return CLIFF_FIT_NOT_FINITE;
    if (q) {
        q[1] = cost1, q[2] = data1, q[3] = cost1 - data1;
        person_cost(pp, x, H, g, NULL, NULL); /* H and dJ at the result */
        q[4] = joint_spread(H, pp->dJ, P, A, H); /* H is scratch there: not read after */
    }
    st[1] = err1;
    st[2] = it;
    st[3] = converged;
    return CLIFF_FIT_OK;
}

cliff_fit_options cliff_fit_default_params(void) {
    return (cliff_fit_options){.max_iter = 30, .tol = 1e-6, .robust = CLIFF_ROBUST_GEMAN_MCCLURE,
                               .robust_scale = 3.0, .sigma_rel = 0.01, .w_root = 0.0,
                               .w_pose = 0.0, .w_betas_init = 0.0, .w_shape = 0.0,
                               .w_transl = 0.0, .w_gmm = 0.0, .gmm_n = 0, .gmm_means = NULL,
                               .gmm_prec_chol = NULL, .gmm_const = NULL, .w_up = 0.0,
                               .up_sigma = 0.0, .w_depth = 0.0};
}

/* The pose prior's arrays (cliff_fit_options.gmm_*): present, finite, L_k lower triangular with
 * a positive diagonal (a Cholesky factor of a positive definite precision). */
static cliff_status check_gmm(const cliff_fit_options *opt, const char *fn) {
    if (!(opt->w_gmm >= 0) || !isfinite(opt->w_gmm))
        return cliff_fail(CLIFF_EINVAL, "%s: w_gmm must be a finite number >= 0", fn);
    if (!opt->gmm_n) return CLIFF_OK;
    if (opt->gmm_n > 64 || !opt->gmm_means || !opt->gmm_prec_chol || !opt->gmm_const)
        return cliff_fail(CLIFF_EINVAL, "%s: pose prior: gmm_n must be 1..64 with gmm_means, "
                                        "gmm_prec_chol and gmm_const given", fn);
    const size_t n = opt->gmm_n;
    if (!all_finite(opt->gmm_means, n * GMM_D) || !all_finite(opt->gmm_const, n) ||
        !all_finite(opt->gmm_prec_chol, n * GMM_D * GMM_D))
        return cliff_fail(CLIFF_EINVAL, "%s: pose prior: non-finite values", fn);
    for (size_t k = 0; k < n; k++)
        for (int r = 0; r < GMM_D; r++) {
            const double *row = opt->gmm_prec_chol + (k * GMM_D + r) * GMM_D;
            if (!(row[r] > 0))
                return cliff_fail(CLIFF_EINVAL, "%s: pose prior: gmm_prec_chol[%zu] has a "
                                                "non-positive diagonal entry %d", fn, k, r);
            for (int c = r + 1; c < GMM_D; c++)
                if (row[c] != 0.0)
                    return cliff_fail(CLIFF_EINVAL, "%s: pose prior: gmm_prec_chol[%zu] is not "
                                                    "lower triangular", fn, k);
        }
    return CLIFF_OK;
}

/* The upright prior's fields (cliff_fit_options.w_up, up_sigma). */
static cliff_status check_upright(const cliff_fit_options *opt, const char *fn) {
    if (!(opt->w_up >= 0) || !isfinite(opt->w_up) ||
        (opt->w_up > 0 && (!(opt->up_sigma > 0) || !isfinite(opt->up_sigma))))
        return cliff_fail(CLIFF_EINVAL, "%s: upright prior: w_up must be a finite number >= 0 "
                                        "and, when > 0, up_sigma a finite number > 0 (radians)", fn);
    return CLIFF_OK;
}

static cliff_status check_options(const cliff_fit_options *opt, const char *fn) {
    if (opt->max_iter < 1 || !(opt->tol >= 0) || !(opt->sigma_rel > 0) || !(opt->robust_scale > 0) ||
        (opt->robust != CLIFF_ROBUST_NONE && opt->robust != CLIFF_ROBUST_GEMAN_MCCLURE &&
         opt->robust != CLIFF_ROBUST_HUBER) || !(opt->w_root >= 0) || !(opt->w_pose >= 0) ||
        !(opt->w_betas_init >= 0) || !(opt->w_shape >= 0) || !(opt->w_transl >= 0) ||
        !(opt->w_depth >= 0) || !isfinite(opt->w_depth))
        return cliff_fail(CLIFF_EINVAL, "%s: invalid options (max_iter >= 1, tol >= 0, "
                                        "sigma_rel > 0, robust_scale > 0, weights >= 0)", fn);
    cliff_status st = check_upright(opt, fn);
    return st != CLIFF_OK ? st : check_gmm(opt, fn);
}

static cliff_status check_kp_joint(const int64_t *kp_joint, size_t M, size_t NJ, const char *fn) {
    for (size_t m = 0; m < M; m++)
        if (kp_joint[m] >= (int64_t)NJ)
            return cliff_fail(CLIFF_EINVAL, "%s: kp_joint[%zu] = %lld exceeds the %zu model joints",
                              fn, m, (long long)kp_joint[m], NJ);
    return CLIFF_OK;
}

cliff_status cliff_fit_pose_prior(const cliff_fit_options *opt, size_t n, const double *R0,
                                  const double *phi, double *cost, double *grad) {
    if (!opt || (n && (!R0 || !phi || !cost)))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_pose_prior: NULL argument");
    cliff_status st = check_gmm(opt, "cliff_fit_pose_prior");
    if (st != CLIFF_OK) return st;
    if (!opt->gmm_n)
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_pose_prior: the options hold no pose prior");
    if (!all_finite(R0, n * 216) || !all_finite(phi, n * 72))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_pose_prior: non-finite R0 or phi");
    fk_state *s = cliff_alloc(sizeof *s);
    double *H = cliff_alloc((72 * 72 + 72) * sizeof(double)), *prec = gmm_precisions(opt);
    if (!s || !H || !prec) {
        cliff_free(s);
        cliff_free(H);
        cliff_free(prec);
        return cliff_fail(CLIFF_ENOMEM, "cliff_fit_pose_prior: out of memory");
    }
    double *g = H + 72 * 72;
    for (size_t i = 0; i < n; i++) {
        double E[9];
        for (int j = 0; j < NJ_SMPL; j++) {
            so3_exp_jr(phi + i * 72 + 3 * j, E, s->Jr + 9 * j);
            mat3_mul(R0 + i * 216 + 9 * j, E, s->R + 9 * j);
        }
        memset(g, 0, 72 * sizeof(double));
        cost[i] = gmm_term(opt, prec, s, grad ? H : NULL, g, 72);
        if (grad)
            for (int q = 0; q < 72; q++) grad[i * 72 + q] = 2.0 * g[q]; /* g = J^T r */
    }
    cliff_free(s);
    cliff_free(H);
    cliff_free(prec);
    return CLIFF_OK;
}

cliff_status cliff_fit_upright_prior(const cliff_fit_options *opt, size_t n, const double *R0,
                                     const double *phi, double *cost, double *grad) {
    if (!opt || (n && (!R0 || !phi || !cost)))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_upright_prior: NULL argument");
    cliff_status st = check_upright(opt, "cliff_fit_upright_prior");
    if (st != CLIFF_OK) return st;
    if (!(opt->w_up > 0))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_upright_prior: the options hold no upright "
                                        "prior (w_up = 0)");
    if (!all_finite(R0, n * 9) || !all_finite(phi, n * 3))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_upright_prior: non-finite R0 or phi");
    for (size_t i = 0; i < n; i++) {
        double E[9], Jr[9], R[9], H[9] = {0}, g[3] = {0};
        so3_exp_jr(phi + 3 * i, E, Jr);
        mat3_mul(R0 + 9 * i, E, R);
        cost[i] = upright_term(opt, R, Jr, grad ? H : NULL, g, 3);
        if (grad)
            for (int q = 0; q < 3; q++) grad[3 * i + q] = 2.0 * g[q]; /* g = J^T r */
    }
    return CLIFF_OK;
}

/* Per-thread work of one person: fk state + scratch, joints, uv, dJ, duv, then the LM arrays
 * (H, A (P,P), g, dx, xn (P)) and x (P) at the end. */
static size_t person_work_doubles(size_t NV, size_t NJ, size_t P) {
    return fit_scratch_doubles(NV) + NJ * 3 + NJ * 2 + NJ * 3 * P + NJ * 2 * P + 2 * P * P + 4 * P;
}

static void person_bind(person *pp, const cliff_fit_body *body, const cliff_fit_options *opt,
                        size_t i, const double *R0, const double *betas0, const double *t0,
                        const double *cam, size_t M, const double *kp, const int64_t *kp_joint,
                        const double *norm, const unsigned char *vneed, fk_state *s,
                        double *work) {
    const size_t K = body->n_betas, NV = body->n_vert, NJ = NJ_SMPL + NV, P = 72 + K + 3;
    *pp = (person){.b = body, .o = opt, .R0 = R0 + i * 216, .betas0 = betas0 + i * K,
                   .t0 = t0 + 3 * i, .cam = cam + 3 * i, .kp = kp + i * M * 3,
                   .kp_joint = kp_joint, .vneed = vneed, .M = M, .s = s};
    double nrm = norm[i] * opt->sigma_rel;
    pp->inv_sigma = nrm > 0 && isfinite(nrm) ? 1.0 / nrm : 0.0;
    pp->scratch = work;
    pp->joints = pp->scratch + fit_scratch_doubles(NV);
    pp->uv = pp->joints + NJ * 3;
    pp->dJ = pp->uv + NJ * 2;
    pp->duv = pp->dJ + NJ * 3 * P;
}

/* Flags (NV) of the vertex joints some keypoint supervises (kp_joint checked); cliff_alloc'd,
 * NULL when out of memory. */
static unsigned char *vertex_joints_needed(const int64_t *kp_joint, size_t M, size_t NV) {
    unsigned char *need = cliff_alloc(NV);
    if (!need) return NULL;
    memset(need, 0, NV);
    for (size_t m = 0; m < M; m++)
        if (kp_joint[m] >= NJ_SMPL) need[kp_joint[m] - NJ_SMPL] = 1;
    return need;
}

static cliff_status fit_people_flat(const cliff_fit_body *body, const cliff_fit_options *opt, size_t n,
                                     const double *R0, const double *betas0, const double *t0,
                                     const double *cam, size_t M, const double *kp,
                                     const int64_t *kp_joint, const double *norm, const double *x0,
                                     double *R, double *betas, double *t, double *phi, double *stats,
                                     double *quality) {
    if (!body || !opt || (n && (!R0 || !betas0 || !t0 || !cam || !kp || !norm || !R || !betas ||
                                !t || !phi || !stats)) || (M && !kp_joint))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_people: NULL argument");
    cliff_status cst = check_options(opt, "cliff_fit_people");
    if (cst != CLIFF_OK) return cst;
    const size_t K = body->n_betas, NV = body->n_vert, NJ = NJ_SMPL + NV, P = 72 + K + 3;
    cliff_status bst = check_body(body, "cliff_fit_people");
    if (bst != CLIFF_OK) return bst;
    bst = check_kp_joint(kp_joint, M, NJ, "cliff_fit_people");
    if (bst != CLIFF_OK) return bst;
    double *prec = NULL; /* the pose prior's precisions, shared read-only by the threads */
    if (opt->gmm_n && opt->w_gmm > 0 && n && !(prec = gmm_precisions(opt)))
        return cliff_fail(CLIFF_ENOMEM, "cliff_fit_people: out of memory");
    unsigned char *vneed = vertex_joints_needed(kp_joint, M, NV);
    if (!vneed) {
        cliff_free(prec);
        return cliff_fail(CLIFF_ENOMEM, "cliff_fit_people: out of memory");
    }
    int nth = cliff_threads();
    if ((size_t)nth > n) nth = n > 0 ? (int)n : 1; /* no idle threads for small batches */
    /* One person is ~1-10 ms of LM, far above OpenMP's scheduling cost; people differ in their
     * iteration counts, so they are handed out dynamically one at a time. Each thread owns its
     * work arrays (allocated once per call, cache-line aligned by cliff_alloc). */
#pragma omp parallel num_threads(nth)
    {
        fk_state *s = cliff_alloc(sizeof *s);
        const size_t nwork = person_work_doubles(NV, NJ, P);
        double *work = cliff_alloc(nwork * sizeof(double));
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++) {
            double *st = stats + 5 * i, *x = work ? work + nwork - P : NULL; /* x: end of work */
            double *q = quality ? quality + 5 * i : NULL;
            st[0] = st[1] = 0.0, st[2] = 0.0, st[3] = 0.0;
            if (q) q[0] = q[1] = q[2] = q[3] = q[4] = 0.0;
            int status = CLIFF_FIT_NOMEM;
            if (s && work) {
                person pp;
                person_bind(&pp, body, opt, i, R0, betas0, t0, cam, M, kp, kp_joint, norm, vneed, s,
                            work);
                pp.gmm_prec = prec;
                double *lm = pp.duv + NJ * 2 * P;
                if (x0) {
                    memcpy(x, x0 + i * P, P * sizeof(double));
                } else {
                    memset(x, 0, 72 * sizeof(double));
                    memcpy(x + 72, pp.betas0, K * sizeof(double));
                    memcpy(x + 72 + K, pp.t0, 3 * sizeof(double));
                }
                if (!(pp.inv_sigma > 0) || !all_finite(pp.R0, 216) || !all_finite(x, P) ||
                    !all_finite(pp.betas0, K) || !all_finite(pp.t0, 3) ||
                    !all_finite(pp.cam, 3) || !(pp.cam[0] > 0))
                    status = CLIFF_FIT_NOT_FINITE;
                else
                    status = fit_one(&pp, x, st, q, lm);
                if (status != CLIFF_FIT_OK) {
                    memset(x, 0, 72 * sizeof(double));
                    memcpy(x + 72, pp.betas0, K * sizeof(double));
                    memcpy(x + 72 + K, pp.t0, 3 * sizeof(double));
                    st[0] = st[1] = st[2] = st[3] = 0.0;
                    if (q) q[0] = q[1] = q[2] = q[3] = q[4] = 0.0;
                }
                /* outputs */
                double E[9];
                for (int j = 0; j < NJ_SMPL; j++) {
                    so3_exp_jr(x + 3 * j, E, NULL);
                    mat3_mul(pp.R0 + 9 * j, E, R + i * 216 + 9 * j);
                }
                memcpy(phi + i * 72, x, 72 * sizeof(double));
                memcpy(betas + i * K, x + 72, K * sizeof(double));
                memcpy(t + 3 * i, x + 72 + K, 3 * sizeof(double));
            }
            else {
                memcpy(R + i * 216, R0 + i * 216, 216 * sizeof(double));
                memset(phi + i * 72, 0, 72 * sizeof(double));
                memcpy(betas + i * K, betas0 + i * K, K * sizeof(double));
                memcpy(t + 3 * i, t0 + 3 * i, 3 * sizeof(double));
            }
            st[4] = status;
        }
        cliff_free(s);
        cliff_free(work);
    }
    cliff_free(vneed);
    cliff_free(prec);
    return CLIFF_OK;
}

cliff_status cliff_fit_people(const cliff_fit_body *body, const cliff_fit_options *options,
                              const cliff_fit_input *in, const cliff_fit_output *out) {
    if (!body || !in || !out) return cliff_fail(CLIFF_EINVAL, "cliff_fit_people: NULL argument");
    const cliff_fit_options defaults = cliff_fit_default_params();
    return fit_people_flat(body, options ? options : &defaults, in->n, in->R0, in->betas0, in->t0,
                           in->cam, in->M, in->kp, in->kp_joint, in->norm, in->x0, out->R,
                           out->betas, out->t, out->phi, out->stats, out->quality);
}

static cliff_status fit_evaluate_flat(const cliff_fit_body *body, const cliff_fit_options *opt, size_t n,
                                const double *R0, const double *betas0, const double *t0,
                                const double *cam, size_t M, const double *kp,
                                const int64_t *kp_joint, const double *norm, const double *R,
                                const double *betas, const double *t, double *out,
                                double *kp_err) {
    if (!body || !opt || (n && (!R0 || !betas0 || !t0 || !cam || !kp || !norm || !R || !betas ||
                                !t || !out || (M && !kp_err))) || (M && !kp_joint))
        return cliff_fail(CLIFF_EINVAL, "cliff_fit_evaluate: NULL argument");
    cliff_status st = check_options(opt, "cliff_fit_evaluate");
    if (st != CLIFF_OK) return st;
    st = check_body(body, "cliff_fit_evaluate");
    if (st != CLIFF_OK) return st;
    const size_t K = body->n_betas, NV = body->n_vert, NJ = NJ_SMPL + NV, P = 72 + K + 3;
    st = check_kp_joint(kp_joint, M, NJ, "cliff_fit_evaluate");
    if (st != CLIFF_OK) return st;
    unsigned char *vneed = vertex_joints_needed(kp_joint, M, NV);
    if (!vneed) return cliff_fail(CLIFF_ENOMEM, "cliff_fit_evaluate: out of memory");
    int nth = cliff_threads();
    if ((size_t)nth > n) nth = n > 0 ? (int)n : 1;
#pragma omp parallel num_threads(nth)
    {
        fk_state *s = cliff_alloc(sizeof *s);
        /* scratch, joints, uv, x: no Jacobians */
        const size_t nwork = fit_scratch_doubles(NV) + NJ * 5 + P;
        double *work = cliff_alloc(nwork * sizeof(double));
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            double *o = out + 5 * i, *e = kp_err + i * M;
            o[0] = o[1] = o[2] = o[3] = 0.0, o[4] = CLIFF_FIT_NOMEM;
            for (size_t m = 0; m < M; m++) e[m] = -1.0;
            if (!s || !work) continue;
            person pp;
            person_bind(&pp, body, opt, i, R0, betas0, t0, cam, M, kp, kp_joint, norm, vneed, s,
                        work);
            pp.dJ = pp.duv = NULL;
            double *x = work + nwork - P, RtR[9];
            for (int j = 0; j < NJ_SMPL; j++) { /* phi_j = Log(R0_j^T R_j) */
                const double *A = pp.R0 + 9 * j, *B = R + i * 216 + 9 * j;
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 3; c++)
                        RtR[3 * r + c] = A[r] * B[c] + A[3 + r] * B[3 + c] + A[6 + r] * B[6 + c];
                cliff_rotmat_to_axis_angle_f64(RtR, 1, x + 3 * j);
            }
            memcpy(x + 72, betas + i * K, K * sizeof(double));
            memcpy(x + 72 + K, t + 3 * i, 3 * sizeof(double));
            if (!(pp.inv_sigma > 0) || !all_finite(pp.R0, 216) || !all_finite(x, P) ||
                !all_finite(pp.betas0, K) || !all_finite(pp.t0, 3) || !all_finite(pp.cam, 3) ||
                !(pp.cam[0] > 0)) {
                o[4] = CLIFF_FIT_NOT_FINITE;
                continue;
            }
            double err = 0.0, data = 0.0, cost = person_cost(&pp, x, NULL, NULL, &err, &data);
            int used = 0;
            for (size_t m = 0; m < M; m++) {
                int64_t jj = kp_joint[m];
                if (jj < 0 || !(pp.kp[3 * m + 2] > 0.0)) continue;
                used++;
                if (!(pp.joints[3 * jj + 2] > 1e-6)) continue;
                e[m] = hypot(pp.uv[2 * jj] - pp.kp[3 * m], pp.uv[2 * jj + 1] - pp.kp[3 * m + 1]);
            }
            if (!used) {
                o[4] = CLIFF_FIT_NO_KEYPOINTS;
                continue;
            }
            if (!isfinite(cost)) {
                o[4] = CLIFF_FIT_BEHIND_CAMERA;
                continue;
            }
            o[0] = cost, o[1] = data, o[2] = cost - data, o[3] = err, o[4] = CLIFF_FIT_OK;
        }
        cliff_free(s);
        cliff_free(work);
    }
    cliff_free(vneed);
    return CLIFF_OK;
}

cliff_status cliff_fit_evaluate(const cliff_fit_body *body, const cliff_fit_options *options,
                                const cliff_fit_input *in, const double *R, const double *betas,
                                const double *t, double *out, double *kp_err) {
    if (!body || !in) return cliff_fail(CLIFF_EINVAL, "cliff_fit_evaluate: NULL argument");
    const cliff_fit_options defaults = cliff_fit_default_params();
    return fit_evaluate_flat(body, options ? options : &defaults, in->n, in->R0, in->betas0, in->t0,
                             in->cam, in->M, in->kp, in->kp_joint, in->norm, R, betas, t, out,
                             kp_err);
}
