/* hrnet.c - HRNet-W48 classification encoder as CLIFF builds it (docs/official.md#arch-hr48), as a layer table.
 * Layer names are the checkpoint key prefixes ("encoder.stage3.2.fuse_layers.1.0.0.0"). */
#include "nn/nn.h"

#include <stdio.h>

static const int C[4] = {48, 96, 192, 384};
#define BH(b) (64 >> (b))
#define BW(b) (48 >> (b))

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

cliff_status nn_build_hrnet48(nn_graph *g) {
    char pfx[NN_NAME];
    int x[4];
    g->input = g_tensor(g, 3, CLIFF_CROP_HEIGHT, CLIFF_CROP_WIDTH);
    int a = g_tensor(g, 64, 128, 96), b = g_tensor(g, 64, 64, 48);
    g_conv(g, "encoder.conv1", "encoder.bn1", g->input, a, 3, 2, 0, "r", -1);
    g_conv(g, "encoder.conv2", "encoder.bn2", a, b, 3, 2, 0, "r", -1);
    for (int k = 0; k < 4; k++) {
        g_name(pfx, "encoder.layer1.%d", k);
        b = g_bottleneck(g, pfx, b, 64, 1, k == 0);
    }
    x[0] = hr_transition(g, "encoder.transition1.0.0", "encoder.transition1.0.1", b, 0, 1);
    x[1] = hr_transition(g, "encoder.transition1.1.0.0", "encoder.transition1.1.0.1", b, 1, 2);
    hr_module(g, "encoder.stage2.0", 2, x);
    x[2] = hr_transition(g, "encoder.transition2.2.0.0", "encoder.transition2.2.0.1", x[1], 2, 2);
    for (int m = 0; m < 4; m++) {
        g_name(pfx, "encoder.stage3.%d", m);
        hr_module(g, pfx, 3, x);
    }
    x[3] = hr_transition(g, "encoder.transition3.3.0.0", "encoder.transition3.3.0.1", x[2], 3, 2);
    for (int m = 0; m < 3; m++) {
        g_name(pfx, "encoder.stage4.%d", m);
        hr_module(g, pfx, 4, x);
    }
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
