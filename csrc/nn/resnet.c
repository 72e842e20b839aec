/* resnet.c - ResNet-50 encoder (torchvision v1.5 layout, no fc) as a layer table, and the
 * Bottleneck block shared with HRNet. Layer names are the checkpoint key prefixes. */
#include "nn/nn.h"

#include <stdio.h>

/* Bottleneck: out = ReLU(bn3(conv3(ReLU(bn2(conv2_s(ReLU(bn1(conv1(x))))))) + r), r = x or
 * bn(conv1x1_s(x)). The downsample conv writes the block output first and conv3 accumulates
 * onto it (sum post-op); with an identity shortcut conv3 accumulates in place onto x. */
int g_bottleneck(nn_graph *g, const char *pfx, int x, int planes, int stride, int downsample) {
    char n1[NN_NAME], n2[NN_NAME];
    int h = g->t[x].h, w = g->t[x].w;
    int oh = (h + 2 - 3) / stride + 1, ow = (w + 2 - 3) / stride + 1;
    int out = x;
    if (downsample) {
        out = g_tensor(g, 4 * planes, oh, ow);
        g_name(n1, "%s.downsample.0", pfx);
        g_name(n2, "%s.downsample.1", pfx);
        g_conv(g, n1, n2, x, out, 1, stride, 0, "", -1);
    }
    int a = g_tensor(g, planes, h, w), b = g_tensor(g, planes, oh, ow);
    const char *po[3] = {"r", "r", "sr"};
    int src[3] = {x, a, b}, dst[3] = {a, b, out}, k[3] = {1, 3, 1}, s[3] = {1, stride, 1};
    for (int i = 0; i < 3; i++) {
        g_name(n1, "%s.conv%d", pfx, i + 1);
        g_name(n2, "%s.bn%d", pfx, i + 1);
        g_conv(g, n1, n2, src[i], dst[i], k[i], s[i], 0, po[i], -1);
    }
    return out;
}

cliff_status nn_build_resnet50(nn_graph *g) {
    static const int blocks[4] = {3, 4, 6, 3}, planes[4] = {64, 128, 256, 512};
    g->input = g_tensor(g, 3, CLIFF_CROP_HEIGHT, CLIFF_CROP_WIDTH);
    int x = g_tensor(g, 64, 128, 96);
    g_conv(g, "encoder.conv1", "encoder.bn1", g->input, x, 7, 2, 0, "r", -1);
    int y = g_tensor(g, 64, 64, 48);
    g_pool(g, OP_MAXPOOL, "encoder.maxpool", x, y, 3, 2, 1);
    x = y;
    char pfx[NN_NAME];
    for (int L = 0; L < 4; L++)
        for (int b = 0; b < blocks[L]; b++) {
            g_name(pfx, "encoder.layer%d.%d", L + 1, b);
            x = g_bottleneck(g, pfx, x, planes[L], b == 0 && L > 0 ? 2 : 1, b == 0);
        }
    g->output = g_tensor(g, 2048, 1, 1);
    g_pool(g, OP_AVGPOOL, "encoder.avgpool", x, g->output, 0, 1, 0);
    return CLIFF_OK;
}

/* The same table on an h x w input with keys under `pre` (mmhuman3d: "backbone."; its mmcv
 * ResNet-50 "pytorch" style has torchvision's layout: stride on the 3x3 conv, same names). */
cliff_status nn_build_resnet50_ex(nn_graph *g, const char *pre, int h, int w) {
    static const int blocks[4] = {3, 4, 6, 3}, planes[4] = {64, 128, 256, 512};
    if (h < 32 || w < 32) return cliff_fail(CLIFF_EINVAL, "res50: input size %dx%d is below 32x32", h, w);
    char n1[NN_NAME], n2[NN_NAME];
    g->input = g_tensor(g, 3, h, w);
    int h2 = (h - 1) / 2 + 1, w2 = (w - 1) / 2 + 1;
    int x = g_tensor(g, 64, h2, w2);
    g_name(n1, "%sconv1", pre);
    g_name(n2, "%sbn1", pre);
    g_conv(g, n1, n2, g->input, x, 7, 2, 0, "r", -1);
    int y = g_tensor(g, 64, (h2 - 1) / 2 + 1, (w2 - 1) / 2 + 1);
    g_name(n1, "%smaxpool", pre);
    g_pool(g, OP_MAXPOOL, n1, x, y, 3, 2, 1);
    x = y;
    char pfx[NN_NAME];
    for (int L = 0; L < 4; L++)
        for (int b = 0; b < blocks[L]; b++) {
            g_name(pfx, "%slayer%d.%d", pre, L + 1, b);
            x = g_bottleneck(g, pfx, x, planes[L], b == 0 && L > 0 ? 2 : 1, b == 0);
        }
    g->output = g_tensor(g, 2048, 1, 1);
    g_name(n1, "%savgpool", pre);
    g_pool(g, OP_AVGPOOL, n1, x, g->output, 0, 1, 0);
    return CLIFF_OK;
}
