// AVX2 + FMA microkernel: a 6 x 16 tile of C in 12 ymm accumulators.
#include <immintrin.h>

#include "gemm.h"

namespace vlm2vla {
void ukr_avx2_6x16(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta) {
  __m256 c[6][2];
  for (int i = 0; i < 6; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(B);
    const __m256 b1 = _mm256_loadu_ps(B + 8);
    for (int i = 0; i < 6; i++) {
      const __m256 a = _mm256_broadcast_ss(A + i);
      c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
    }
    A += 6;
    B += 16;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  for (int i = 0; i < 6; i++) {
    float* r = C + i * ldc;
    if (beta == 0.0f) {
      _mm256_storeu_ps(r, _mm256_mul_ps(va, c[i][0]));
      _mm256_storeu_ps(r + 8, _mm256_mul_ps(va, c[i][1]));
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
      _mm256_storeu_ps(r, _mm256_fmadd_ps(va, c[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(r))));
      _mm256_storeu_ps(r + 8, _mm256_fmadd_ps(va, c[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(r + 8))));
    }
  }
}
}  // namespace vlm2vla
