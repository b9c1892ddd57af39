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

namespace vlm2vla {
namespace {
inline __m256 load8(const void* B, bool bf16, long at) {
  if (bf16) {
    const __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)B + at));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  return _mm256_loadu_ps((const float*)B + at);
}
inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}
}  // namespace

void dots_avx2(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb, int n0, int n1, float* C, long ldc, float alpha, float beta) {
  const int K8 = K & ~7;
  for (int j = n0; j < n1; j++) {
    const long row = (long)j * ldb;
    __m256 acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= K8; k += 16) {
      const __m256 b0 = load8(B, bf16, row + k);
      const __m256 b1 = load8(B, bf16, row + k + 8);
      for (int i = 0; i < M; i++) {
        acc[i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(A + i * lda + k), b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(_mm256_loadu_ps(A + i * lda + k + 8), b1, acc[i][1]);
      }
    }
    for (; k < K8; k += 8) {
      const __m256 b0 = load8(B, bf16, row + k);
      for (int i = 0; i < M; i++) acc[i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(A + i * lda + k), b0, acc[i][0]);
    }
    for (int i = 0; i < M; i++) {
      float d = hsum(_mm256_add_ps(acc[i][0], acc[i][1]));
      for (int kk = k; kk < K; kk++) {
        const float b = bf16 ? [&] { uint32_t u = (uint32_t)((const uint16_t*)B)[row + kk] << 16; float f; __builtin_memcpy(&f, &u, 4); return f; }() : ((const float*)B)[row + kk];
        d += A[i * lda + kk] * b;
      }
      d *= alpha;
      float* c = C + (long)i * ldc + j;
      *c = beta == 0.0f ? d : d + beta * *c;
    }
  }
}
}  // namespace vlm2vla
