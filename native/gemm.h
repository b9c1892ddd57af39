// GEMM: packed, blocked, register-tiled; microkernels for AVX-512 (12x32), AVX2+FMA (6x16) and plain
// C++ (4x8), chosen at run time. op(A) is M x K, op(B) is K x N, both given by row and column strides.
#pragma once
#include <cstdint>

namespace vlm2vla {
struct GemmProblem {
  int M, N, K;
  float alpha, beta;
  const float* A;
  long rsA, csA;  // op(A)(i,k) = A[i*rsA + k*csA]
  const void* B;
  bool bBf16;
  long rsB, csB;  // op(B)(k,j) = B[k*rsB + j*csB]
  float* C;
  long ldc;
};

/** Microkernel: C[MR x NR] = alpha * Apanel·Bpanel + beta * C (beta == 0: C write-only). Apanel is
 *  kc x MR (A[k*MR + i]), Bpanel is kc x NR (B[k*NR + j]). */
typedef void (*MicroKernel)(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta);

/** Small-M path (decoding): C[i, j] = alpha * dot(A row i, B row j) + beta * C[i, j] for i < M <= 4,
 *  j in [n0, n1), with A rows and B rows contiguous along K (B stored [N, K], fp32 or bf16). No
 *  packing: each weight row is read once for all M rows of A. */
typedef void (*DotRowsKernel)(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb,
                              int n0, int n1, float* C, long ldc, float alpha, float beta);

struct KernelSet {
  const char* name;
  int MR, NR;
  MicroKernel ukr;
  DotRowsKernel dots;
};

KernelSet select_kernels();
void gemm(const GemmProblem& p);
const char* gemm_isa();
/** Forces a microkernel family ("avx512", "avx2", "scalar") for tests; false if unsupported here. */
bool set_isa(const char* isa);

// Implemented in the ISA-specific translation units (compiled with their own flags).
void ukr_avx512_12x32(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta);
double fma_peak_avx512(long reps);
void ukr_avx2_6x16(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta);
void dots_avx512(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb, int n0, int n1, float* C, long ldc, float alpha, float beta);
void dots_avx2(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb, int n0, int n1, float* C, long ldc, float alpha, float beta);
}  // namespace vlm2vla
