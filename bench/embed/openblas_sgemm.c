/* Single-thread OpenBLAS sgemm GFLOP/s at the encoder's shapes (C = A * W^T).
 * gcc -O2 bench/openblas_sgemm.c -o /tmp/ob -lopenblas && OPENBLAS_NUM_THREADS=1 /tmp/ob [M] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    int m = argc > 1 ? atoi(argv[1]) : 1872;
    int shapes[4][2] = {{1152, 384}, {384, 384}, {1536, 384}, {384, 1536}};
    printf("openblas core: %s, M = %d\n", openblas_get_corename(), m);
    for (int s = 0; s < 4; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        float *a = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *c = calloc((size_t)m * n, sizeof(float));
        for (long i = 0; i < (long)m * k; i++) a[i] = (i % 17) * 0.01f;
        for (long i = 0; i < (long)n * k; i++) w[i] = (i % 13) * 0.01f;
        double best = 1e9;
        for (int r = 0; r < 26; r++) {
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, w, k, 1.0f, c, n);
            t = now() - t;
            if (r > 0 && t < best) best = t;
        }
        printf("%dx%dx%d: %.1f GFLOP/s\n", m, n, k, 2.0 * m * n * k / best / 1e9);
        free(a); free(w); free(c);
    }
    return 0;
}
