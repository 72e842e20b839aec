/* hrnet.c - HRNet-W48 as layer tables: the classification encoder CLIFF builds
 * (docs/official.md#arch-hr48) and the 720-channel conv-neck variant of BEDLAM / CameraHMR
 * (docs/official.md#hrnet720). Both share the stem, layer1, transitions and stages 2-4; layer
 * names are the checkpoint key prefixes ("encoder.stage3.2.fuse_layers.1.0.0.0"), the trunk's
 * key prefix ("encoder." / "backbone.") given by the caller. Branch b has C[b] channels at
 * (H/4 >> b) x (W/4 >> b) for an H x W input, held in the graph (g->hr_h, g->hr_w). */
#include "nn/nn.h"

#include <stdio.h>

static const int C[4] = {48, 96, 192, 384};
#define BH(b) (g->hr_h >> (b))
#define BW(b) (g->hr_w >> (b))

/* One HighResolutionModule: 4 BasicBlocks per branch (in place: conv2 accumulates onto the
 * block input with [sum, relu]), then the fuse, out_i = ReLU(sum_j T_ij(x_j)), gathered in
 * one buffer per output: terms accumulate with a sum post-op and the last one also applies the
 * ReLU. Outputs i >= 1 get a new buffer; their first term (the stride-2 chain from x_0) adds
 * x_i with a binary-add post-op. Output 0 is computed last, in place on x_0 (every other
 * output has read x_0 by then), so its identity term costs nothing. Upsampled terms run the
 * 1x1 conv at low resolution; nearest resampling then carries the post-ops. */
static void hr_term(nn_graph *g, const char *pfx, int i, int j, int *x, int dst, const char *po, int add) {
    char n1[NN_NAME], n2[NN_NAME];
    if (j > i) {
        int t = g_tensor(g, C[i], BH(j), BW(j));
        g_name(n1, "%s.fuse_layers.%d.%d.0", pfx, i, j);
        g_name(n2, "%s.fuse_layers.%d.%d.1", pfx, i, j);
        g_conv(g, n1, n2, x[j], t, 1, 1, 0, "", -1);
        g_name(n1, "%s.fuse_layers.%d.%d.upsample", pfx, i, j);
        g_upsample(g, n1, t, dst, po, add);
        return;
    }
    int cur = x[j];
    for (int k = 0; k < i - j; k++) {
        g_name(n1, "%s.fuse_layers.%d.%d.%d.0", pfx, i, j, k);
        g_name(n2, "%s.fuse_layers.%d.%d.%d.1", pfx, i, j, k);
        if (k < i - j - 1) {
            int t = g_tensor(g, C[j], BH(j + k + 1), BW(j + k + 1));
            g_conv(g, n1, n2, cur, t, 3, 2, 0, "r", -1);
            cur = t;
        } else {
            g_conv(g, n1, n2, cur, dst, 3, 2, 0, po, add);
        }
    }
}

static void hr_module(nn_graph *g, const char *pfx, int nb, int *x) {
    char n1[NN_NAME], n2[NN_NAME];
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < 4; k++) {
            int t = g_tensor(g, C[b], BH(b), BW(b));
            g_name(n1, "%s.branches.%d.%d.conv1", pfx, b, k);
            g_name(n2, "%s.branches.%d.%d.bn1", pfx, b, k);
            g_conv(g, n1, n2, x[b], t, 3, 1, 0, "r", -1);
            g_name(n1, "%s.branches.%d.%d.conv2", pfx, b, k);
            g_name(n2, "%s.branches.%d.%d.bn2", pfx, b, k);
            g_conv(g, n1, n2, t, x[b], 3, 1, 0, "sr", -1);
            if (!g->failed) g->l[g->nl - 1].branch = g->l[g->nl - 2].branch = b + 1;
        }
    int y[4];
    y[0] = x[0];
    for (int i = 1; i < nb; i++) {
        y[i] = g_tensor(g, C[i], BH(i), BW(i));
        hr_term(g, pfx, i, 0, x, y[i], nb == 2 ? "ar" : "a", x[i]);
        for (int j = 1, term = 1; j < nb; j++)
            if (j != i) hr_term(g, pfx, i, j, x, y[i], ++term == nb - 1 ? "sr" : "s", -1);
    }
    for (int j = 1; j < nb; j++) hr_term(g, pfx, 0, j, x, y[0], j == nb - 1 ? "sr" : "s", -1);
    for (int i = 0; i < nb; i++) x[i] = y[i];
}

/* transition conv (3x3, BN, ReLU) creating branch b from tensor src. */
static int hr_transition(nn_graph *g, const char *name, const char *bn, int src, int b, int stride) {
    int t = g_tensor(g, C[b], BH(b), BW(b));
    g_conv(g, name, bn, src, t, 3, stride, 0, "r", -1);
    return t;
}

/* Stem, layer1, transitions and stages 2-4 of an HRNet-W48 on an h x w input (h, w multiples of
 * 32); x receives the four branch outputs. `pre` is the key prefix ("encoder."). */
static void hr_trunk(nn_graph *g, const char *pre, int h, int w, int *x) {
    char pfx[NN_NAME], n1[NN_NAME], n2[NN_NAME], n3[NN_NAME], n4[NN_NAME];
    g->hr_h = h / 4;
    g->hr_w = w / 4;
    g->input = g_tensor(g, 3, h, w);
    int a = g_tensor(g, 64, h / 2, w / 2), b = g_tensor(g, 64, h / 4, w / 4);
    g_name(n1, "%sconv1", pre);
    g_name(n2, "%sbn1", pre);
    g_name(n3, "%sconv2", pre);
    g_name(n4, "%sbn2", pre);
    g_conv(g, n1, n2, g->input, a, 3, 2, 0, "r", -1);
    g_conv(g, n3, n4, a, b, 3, 2, 0, "r", -1);
    for (int k = 0; k < 4; k++) {
        g_name(pfx, "%slayer1.%d", pre, k);
        b = g_bottleneck(g, pfx, b, 64, 1, k == 0);
    }
    g_name(n1, "%stransition1.0.0", pre);
    g_name(n2, "%stransition1.0.1", pre);
    x[0] = hr_transition(g, n1, n2, b, 0, 1);
    g_name(n1, "%stransition1.1.0.0", pre);
    g_name(n2, "%stransition1.1.0.1", pre);
    x[1] = hr_transition(g, n1, n2, b, 1, 2);
    g_name(pfx, "%sstage2.0", pre);
    hr_module(g, pfx, 2, x);
    g_name(n1, "%stransition2.2.0.0", pre);
    g_name(n2, "%stransition2.2.0.1", pre);
    x[2] = hr_transition(g, n1, n2, x[1], 2, 2);
    for (int m = 0; m < 4; m++) {
        g_name(pfx, "%sstage3.%d", pre, m);
        hr_module(g, pfx, 3, x);
    }
    g_name(n1, "%stransition3.3.0.0", pre);
    g_name(n2, "%stransition3.3.0.1", pre);
    x[3] = hr_transition(g, n1, n2, x[2], 3, 2);
    for (int m = 0; m < 3; m++) {
        g_name(pfx, "%sstage4.%d", pre, m);
        hr_module(g, pfx, 4, x);
    }
}

cliff_status nn_build_hrnet48(nn_graph *g) {
    char pfx[NN_NAME];
    int x[4];
    hr_trunk(g, "encoder.", CLIFF_CROP_HEIGHT, CLIFF_CROP_WIDTH, x);
    /* head: y = incre[0](x0); y = incre[i+1](x_{i+1}) + ReLU(bn(downsamp[i](y))) */
    static const int planes[4] = {32, 64, 128, 256};
    char n1[NN_NAME], n2[NN_NAME];
    g_name(pfx, "encoder.incre_modules.0.0");
    int y = g_bottleneck(g, pfx, x[0], planes[0], 1, 1);
    for (int i = 0; i < 3; i++) {
        g_name(pfx, "encoder.incre_modules.%d.0", i + 1);
        int z = g_bottleneck(g, pfx, x[i + 1], planes[i + 1], 1, 1);
        g_name(n1, "encoder.downsamp_modules.%d.0", i);
        g_name(n2, "encoder.downsamp_modules.%d.1", i);
        g_conv(g, n1, n2, y, z, 3, 2, 1, "rs", -1);
        y = z;
    }
    int f = g_tensor(g, 2048, 8, 6);
    g_conv(g, "encoder.final_layer.0", "encoder.final_layer.1", y, f, 1, 1, 1, "r", -1);
    g->output = g_tensor(g, 2048, 1, 1);
    g_pool(g, OP_AVGPOOL, "encoder.avgpool", f, g->output, 0, 1, 0);
    return CLIFF_OK;
}

/* The 720-channel conv neck (BEDLAM's PoseHighResolutionNet with DOWNSAMPLE and USE_CONV):
 * branches 0, 1, 2 go down to branch 3's resolution through 3, 2, 1 strided 3x3 convs (no bias,
 * BN, ReLU; Sequential indices 0/1 per step, 3/4, 6/7), then concatenation [b0 | b1 | b2 | b3]
 * = 48 + 96 + 192 + 384 = 720 channels, then the global average pool (done by the heads that
 * use this trunk: CLIFF's regressor, HumanFoV's linear layers). The unused `final_layer`
 * (a 1x1 heatmap conv on branch 0) is not part of the table. */
cliff_status nn_build_hrnet48_720(nn_graph *g, const char *pre, int h, int w) {
    if (h <= 0 || w <= 0 || h % 32 || w % 32)
        return cliff_fail(CLIFF_EINVAL, "hrnet720: input size %dx%d is not a positive multiple of 32", h, w);
    int x[4];
    hr_trunk(g, pre, h, w, x);
    char n1[NN_NAME], n2[NN_NAME];
    int cat = -1;
    for (int s = 0; s < 3; s++) {
        int cur = x[s];
        for (int k = 0; k < 3 - s; k++) {
            int t = g_tensor(g, C[s], BH(s + k + 1), BW(s + k + 1));
            g_name(n1, "%sdownsample_stage_%d.%d", pre, s + 1, 3 * k);
            g_name(n2, "%sdownsample_stage_%d.%d", pre, s + 1, 3 * k + 1);
            g_conv(g, n1, n2, cur, t, 3, 2, 0, "r", -1);
            cur = t;
        }
        if (s == 0) {
            cat = cur;
            continue;
        }
        int d = g_tensor(g, g->t[cat].c + C[s], BH(3), BW(3));
        g_name(n1, "%sneck.concat%d", pre, s);
        g_concat(g, n1, cat, cur, d);
        cat = d;
    }
    int d = g_tensor(g, HR720_FEATURES, BH(3), BW(3));
    g_name(n1, "%sneck.concat3", pre);
    g_concat(g, n1, cat, x[3], d);
    g->output = g_tensor(g, HR720_FEATURES, 1, 1);
    g_name(n1, "%savgpool", pre);
    g_pool(g, OP_AVGPOOL, n1, d, g->output, 0, 1, 0);
    return CLIFF_OK;
}
