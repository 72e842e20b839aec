/* winograd_tmpl.h - the per-tile transforms of winograd.c, compiled once per instruction set.
 * Included by winograd.c with WT(x) (name suffix) and WT_ATTR (target attribute) defined.
 *
 * WT_GV channels are one GCC vector, the instruction set's register: 16 floats (one zmm) with
 * AVX-512, 8 (one ymm) with AVX2, 4 (one xmm) otherwise. Activations are NHWC, so a pixel's
 * channels are contiguous and every transform is a handful of vector adds per WT_GV channels.
 * (A 64-byte vector on AVX2 is legal GCC, but in the register blocking below GCC kept such
 * vectors in memory and moved them through general registers: the AVX2 kernels ran 5-9x
 * slower than the AVX-512 ones on the same CPU until 2026-12-05.) */

typedef float WT(vf) __attribute__((vector_size(WT_GV * 4)));
typedef int WT(vi) __attribute__((vector_size(WT_GV * 4)));

#define VF WT(vf)
#define VI WT(vi)

static WT_ATTR inline VF WT(load)(const float *p, int nc) {
    VF v = {0};
    if (nc == WT_GV)
        memcpy(&v, p, sizeof v);
    else
        memcpy(&v, p, (size_t)nc * sizeof(float));
    return v;
}

static WT_ATTR inline void WT(store)(float *p, VF v, int nc) {
    if (nc == WT_GV)
        memcpy(p, &v, sizeof v);
    else
        memcpy(p, &v, (size_t)nc * sizeof(float));
}

/* The a x a input patch of tile t (zero outside the map) -> V[pos * vs + :] = (B^T d B)[pos]. */
static WT_ATTR void WT(input_tile)(const nn_wino *W, long t, float *V, size_t vs) {
    const int A = W->a, m = W->m, h = W->h, w = W->w;
    const long C = W->ic, per = (long)W->th * W->tw;
    const int b = (int)(t / per), r = (int)(t % per), y0 = (r / W->tw) * m - 1, x0 = (r % W->tw) * m - 1;
    const float *src = W->src + (size_t)b * h * w * C;
    for (long cb = 0; cb < C; cb += WT_GV) {
        const int nc = C - cb < WT_GV ? (int)(C - cb) : WT_GV;
        VF d[6][6], s[6][6], q[6];
        for (int i = 0; i < A; i++) {
            const int y = y0 + i;
            for (int j = 0; j < A; j++) {
                const int x = x0 + j;
                if (y < 0 || y >= h || x < 0 || x >= w)
                    d[i][j] = (VF){0};
                else
                    d[i][j] = WT(load)(src + ((size_t)y * w + x) * C + cb, nc);
            }
        }
        if (m == 4) {
            for (int j = 0; j < 6; j++) {
                BT4(q, d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j]);
                for (int i = 0; i < 6; i++) s[i][j] = q[i];
            }
            for (int i = 0; i < 6; i++) {
                BT4(q, s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5]);
                for (int j = 0; j < 6; j++) WT(store)(V + (size_t)(i * 6 + j) * vs + cb, q[j], nc);
            }
        } else {
            for (int j = 0; j < 4; j++) {
                BT2(q, d[0][j], d[1][j], d[2][j], d[3][j]);
                for (int i = 0; i < 4; i++) s[i][j] = q[i];
            }
            for (int i = 0; i < 4; i++) {
                BT2(q, s[i][0], s[i][1], s[i][2], s[i][3]);
                for (int j = 0; j < 4; j++) WT(store)(V + (size_t)(i * 4 + j) * vs + cb, q[j], nc);
            }
        }
    }
}

/* Prefetch tile t's pixels, all channels, from NHWC tensor p of `ch` channels: `rows` rows from
 * row offset `dy` and m + 2 columns from column offset `dx` (input: the a x a patch from -1;
 * output: m rows and the m columns it writes, plus two). Only for layers
 * whose activations do not fit in L2 (W->prefetch; HRNet's 48 channels at batch 8: 3 % of the
 * network's time), where the transforms wait on memory; at batch 1 it cost ~1 %. */
static WT_ATTR inline void WT(prefetch_tile)(const nn_wino *W, const float *p, long ch, long t, int rows,
                                             int dy, int dx) {
    const long per = (long)W->th * W->tw;
    if (!W->prefetch || !p || t >= W->ntiles) return;
    const int b = (int)(t / per), r = (int)(t % per), y0 = (r / W->tw) * W->m + dy,
              x0 = (r % W->tw) * W->m + dx;
    const char *img = (const char *)(p + (size_t)b * W->h * W->w * ch);
    for (int i = 0; i < rows; i++) {
        const int y = y0 + i;
        if (y < 0 || y >= W->h) continue;
        const int xa = x0 < 0 ? 0 : x0, xb = x0 + W->m + 2 > W->w ? W->w : x0 + W->m + 2;
        if (xa >= xb) continue;
        const char *from = img + ((size_t)y * W->w + xa) * ch * sizeof(float);
        const size_t bytes = (size_t)(xb - xa) * ch * sizeof(float);
        for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(from + off);
    }
}

/* M[pos * ms + :] -> A^T M A (m x m outputs of tile t), + bias, post-ops, into the NHWC dst. */
static WT_ATTR void WT(output_tile)(const nn_wino *W, long t, const float *M, size_t ms) {
    const int A = W->a, m = W->m, h = W->h, w = W->w;
    const long K = W->oc, per = (long)W->th * W->tw;
    const int b = (int)(t / per), r = (int)(t % per), y0 = (r / W->tw) * m, x0 = (r % W->tw) * m;
    const size_t img = (size_t)b * h * w * K;
    for (long kb = 0; kb < K; kb += WT_GV) {
        const int nc = K - kb < WT_GV ? (int)(K - kb) : WT_GV;
        VF s[6][6], o[4][4], q[6];
        const VF bias = WT(load)(W->bias + kb, nc);
        if (m == 4) {
            for (int j = 0; j < 6; j++) {
                VF x[6];
                for (int i = 0; i < 6; i++) x[i] = WT(load)(M + (size_t)(i * 6 + j) * ms + kb, nc);
                AT4(q, x[0], x[1], x[2], x[3], x[4], x[5]);
                for (int i = 0; i < 4; i++) s[i][j] = q[i];
            }
            for (int i = 0; i < 4; i++) {
                AT4(q, s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5]);
                for (int j = 0; j < 4; j++) o[i][j] = q[j];
            }
        } else {
            for (int j = 0; j < 4; j++) {
                VF x[4];
                for (int i = 0; i < 4; i++) x[i] = WT(load)(M + (size_t)(i * 4 + j) * ms + kb, nc);
                AT2(q, x[0], x[1], x[2], x[3]);
                for (int i = 0; i < 2; i++) s[i][j] = q[i];
            }
            for (int i = 0; i < 2; i++) {
                AT2(q, s[i][0], s[i][1], s[i][2], s[i][3]);
                for (int j = 0; j < 2; j++) o[i][j] = q[j];
            }
        }
        (void)A;
        for (int i = 0; i < m && y0 + i < h; i++)
            for (int j = 0; j < m && x0 + j < w; j++) {
                const size_t at = img + ((size_t)(y0 + i) * w + (x0 + j)) * K + kb;
                VF v = o[i][j] + bias;
                for (int p = 0; p < W->po.n; p++) {
                    switch (W->po.kind[p]) {
                    case PO_RELU: {
                        VI pos = v > 0.f;
                        v = (VF)((VI)v & pos);
                        break;
                    }
                    case PO_LEAKY: {
                        VI pos = v > 0.f;
                        VF s01 = 0.1f * v;
                        v = (VF)(((VI)v & pos) | ((VI)s01 & ~pos));
                        break;
                    }
                    case PO_SUM: v += WT(load)(W->dst + at, nc); break;
                    case PO_ADD: v += WT(load)(W->add + at, nc); break;
                    }
                }
                WT(store)(W->dst + at, v, nc);
            }
    }
}

/* One register block of the products: `rows` rows from vr x nv groups of 16 output channels
 * from the U panel u (row stride ldu), accumulated over the C input channels, into mp (row
 * stride ldm). rows and nv are constants where it is called, and rows * nv * 16 / WT_GV <= 16
 * accumulators (so the compiler keeps them in registers). */
static WT_ATTR inline __attribute__((always_inline)) void WT(gemm_tile)(const float *vr, const float *u,
                                                                        int ldu, float *mp, int ldm, int C,
                                                                        const int rows, const int nv) {
    const int nvec = nv * (16 / WT_GV); /* vectors per row */
    VF acc[16];
    for (int i = 0; i < rows * nvec; i++) acc[i] = (VF){0};
    for (int c = 0; c < C; c++, u += ldu) {
        VF uv[4];
        for (int v = 0; v < nvec; v++) memcpy(&uv[v], u + WT_GV * v, sizeof uv[v]);
        for (int r = 0; r < rows; r++) {
            const float x = vr[(size_t)r * C + c];
            for (int v = 0; v < nvec; v++) acc[r * nvec + v] += x * uv[v];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nvec; v++) memcpy(mp + (size_t)r * ldm + WT_GV * v, &acc[r * nvec + v], sizeof acc[0]);
}

/* The a*a products of one block: M[pos] (bp x kp) = V[pos] (bp x ic) . U[pos] (ic x kp).
 * U[pos] is stored as column panels of nn_wino_panel() channels, each contiguous (ic x width),
 * so a panel streams from memory in order. Register blocking: WT_R rows x WT_NV vectors of 16
 * output channels of accumulators, the input value broadcast, a row of the panel loaded once
 * per input channel. With AVX-512 a 48-channel panel (HRNet's 48 channels) runs as 4 x 3
 * blocks, a 32-channel one as 8 x 2 and a last 16 as 8 x 1: no product is computed for
 * padding; AVX2 and the baseline take every panel 16 channels at a time. */
static WT_ATTR void WT(gemm)(const nn_wino *W, const float *V, float *M) {
    const int T = W->a * W->a, C = W->ic, kp = W->kp, bp = W->bp;
    for (int pos = 0; pos < T; pos++) {
        const float *Vp = V + (size_t)pos * bp * C, *Up = W->U + (size_t)pos * C * kp;
        float *Mp = M + (size_t)pos * bp * kp;
        for (int k0 = 0, pw; k0 < kp; k0 += pw) {
            pw = nn_wino_panel(kp, k0);
            const float *u = Up + (size_t)k0 * C;
            for (int r0 = 0; r0 < bp; r0 += WT_R) {
                const float *vr = Vp + (size_t)r0 * C;
                float *mp = Mp + (size_t)r0 * kp + k0;
#if WT_NV == 2
                if (pw == 48) {
                    WT(gemm_tile)(vr, u, pw, mp, kp, C, WT_R / 2, 3);
                    WT(gemm_tile)(vr + (size_t)(WT_R / 2) * C, u, pw, mp + (size_t)(WT_R / 2) * kp, kp, C,
                                  WT_R / 2, 3);
                } else if (pw == 32) {
                    WT(gemm_tile)(vr, u, pw, mp, kp, C, WT_R, 2);
                } else {
                    WT(gemm_tile)(vr, u, pw, mp, kp, C, WT_R, 1);
                }
#else
                for (int k = 0; k < pw; k += 16) WT(gemm_tile)(vr, u + k, pw, mp + k, kp, C, WT_R, 1);
#endif
            }
        }
    }
}

/* One block of tiles, start to end, on the calling thread with its own buffer. */
static WT_ATTR void WT(block)(const nn_wino *W, long blk, float *buf) {
    const int T = W->a * W->a, C = W->ic, bp = W->bp;
    const long t0 = blk * W->bt, t1 = t0 + W->bt < W->ntiles ? t0 + W->bt : W->ntiles;
    float *V = buf, *M = buf + (size_t)T * bp * C;
    if (t1 - t0 < bp)
        for (int pos = 0; pos < T; pos++)
            memset(V + ((size_t)pos * bp + (t1 - t0)) * C, 0, (size_t)(bp - (t1 - t0)) * C * sizeof(float));
    for (long t = t0; t < t1; t++) {
        WT(prefetch_tile)(W, W->src, C, t + 2, W->a, -1, -1);
        WT(input_tile)(W, t, V + (size_t)(t - t0) * C, (size_t)bp * C);
    }
    WT(gemm)(W, V, M);
    for (long t = t0; t < t1; t++) {
        WT(prefetch_tile)(W, W->add ? W->add : W->dst, W->oc, t + 2, W->m, 0, 0);
        WT(output_tile)(W, t, M + (size_t)(t - t0) * W->kp, (size_t)bp * W->kp);
    }
}

#undef VF
#undef VI
