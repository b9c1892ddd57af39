// AVX-512 microkernel: a 12 x 32 tile of C in 24 zmm accumulators; per k, two B vectors are loaded
// and each of the 12 A values is broadcast into two FMAs.
#include <immintrin.h>
#include <stdint.h>
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

namespace vlm2vla {
namespace {
inline __m512 load16(const void* B, bool bf16, long at) {
  if (bf16) {
    const __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)B + at));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_loadu_ps((const float*)B + at);
}
inline __m512 load16_masked(const void* B, bool bf16, long at, __mmask16 m) {
  if (bf16) {
    // (a masked 16-bit load needs AVX512BW; the tail goes through a zero-padded copy instead)
    uint16_t tmp[16] = {};
    const uint16_t* src = (const uint16_t*)B + at;
    for (int i = 0; i < 16; i++)
      if (m & (1u << i)) tmp[i] = src[i];
    const __m256i h = _mm256_loadu_si256((const __m256i*)tmp);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(m, (const float*)B + at);
}
}  // namespace

void dots_avx512(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb, int n0, int n1, float* C, long ldc, float alpha, float beta) {
  const int K16 = K & ~15;
  const __mmask16 tail = (__mmask16)((1u << (K - K16)) - 1u);
  for (int j = n0; j < n1; j++) {
    const long row = (long)j * ldb;
    __m512 acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= K16; k += 32) {
      const __m512 b0 = load16(B, bf16, row + k);
      const __m512 b1 = load16(B, bf16, row + k + 16);
      for (int i = 0; i < M; i++) {
        acc[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(A + i * lda + k), b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(_mm512_loadu_ps(A + i * lda + k + 16), b1, acc[i][1]);
      }
    }
    for (; k < K16; k += 16) {
      const __m512 b0 = load16(B, bf16, row + k);
      for (int i = 0; i < M; i++) acc[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(A + i * lda + k), b0, acc[i][0]);
    }
    if (tail) {
      const __m512 b0 = load16_masked(B, bf16, row + k, tail);
      for (int i = 0; i < M; i++) acc[i][1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, A + i * lda + k), b0, acc[i][1]);
    }
    for (int i = 0; i < M; i++) {
      const float d = alpha * _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1]));
      float* c = C + (long)i * ldc + j;
      *c = beta == 0.0f ? d : d + beta * *c;
    }
  }
}
}  // namespace vlm2vla
