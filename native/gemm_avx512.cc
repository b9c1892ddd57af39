// AVX-512 microkernel: a 12 x 32 tile of C in 24 zmm accumulators; per k, two B vectors are loaded
// and each of the 12 A values is broadcast into two FMAs.
#include <immintrin.h>
#include <time.h>

#include "gemm.h"

namespace vlm2vla {
void ukr_avx512_12x32(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta) {
  __m512 c[12][2];
  for (int i = 0; i < 12; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(B);
    const __m512 b1 = _mm512_loadu_ps(B + 16);
    _mm_prefetch((const char*)(B + 256), _MM_HINT_T0);
#define ROW(i)                                          \
  {                                                     \
    const __m512 a = _mm512_set1_ps(A[i]);              \
    c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);          \
    c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);          \
  }
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7) ROW(8) ROW(9) ROW(10) ROW(11)
#undef ROW
    A += 12;
    B += 32;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < 12; i++) {
      _mm512_storeu_ps(C + i * ldc, _mm512_mul_ps(va, c[i][0]));
      _mm512_storeu_ps(C + i * ldc + 16, _mm512_mul_ps(va, c[i][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < 12; i++) {
      float* r = C + i * ldc;
      _mm512_storeu_ps(r, _mm512_fmadd_ps(va, c[i][0], _mm512_mul_ps(vb, _mm512_loadu_ps(r))));
      _mm512_storeu_ps(r + 16, _mm512_fmadd_ps(va, c[i][1], _mm512_mul_ps(vb, _mm512_loadu_ps(r + 16))));
    }
  }
}
}  // namespace vlm2vla

namespace vlm2vla {
/** Register-only FMA loop (24 independent chains): this core's fp32 AVX-512 FMA peak, GFLOP/s. */
double fma_peak_avx512(long reps) {
  __m512 c[24];
  for (int i = 0; i < 24; i++) c[i] = _mm512_set1_ps(i * 0.001f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(0.000001f);
  struct timespec s0, s1;
  clock_gettime(CLOCK_MONOTONIC, &s0);
  for (long r = 0; r < reps; r++) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) c[i] = _mm512_fmadd_ps(a, c[i], b);
  }
  clock_gettime(CLOCK_MONOTONIC, &s1);
  float sink = 0;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(c[i]);
  const double sec = (s1.tv_sec - s0.tv_sec) + (s1.tv_nsec - s0.tv_nsec) * 1e-9 + (sink == 12345.0f ? 1e-9 : 0);
  return 2.0 * 16 * 24 * reps / sec / 1e9;
}
}  // namespace vlm2vla
