// The GEMM driver (BLIS-style): for each NC-wide block of op(B) and KC-deep slice, pack B into
// NR-wide panels; for each MC-tall block of op(A), pack A into MR-tall panels; run the microkernel
// over the tiles (edge tiles through a small buffer). The (M, N) plane is split into one task per
// thread; each task packs what it reads. bf16 B is widened while packing.
#include "gemm.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "pool.h"

namespace vlm2vla {
namespace {
constexpr int KC = 384;
constexpr int MC = 96;
constexpr int NC = 1024;

void ukr_scalar_4x8(int kc, const float* A, const float* B, float* C, long ldc, float alpha, float beta) {
  float c[4][8] = {};
  for (int k = 0; k < kc; k++) {
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 8; j++) c[i][j] += A[i] * B[j];
    A += 4;
    B += 8;
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) C[i * ldc + j] = beta == 0.0f ? alpha * c[i][j] : alpha * c[i][j] + beta * C[i * ldc + j];
}

KernelSet current = {nullptr, 0, 0, nullptr};

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void pack_a(const GemmProblem& p, int ic, int mc, int pc, int kc, int MR, float* out) {
  for (int i0 = 0; i0 < mc; i0 += MR) {
    float* dst = out + (long)(i0 / MR) * kc * MR;
    const int rows = mc - i0 < MR ? mc - i0 : MR;
    if (p.csA == 1) {
      // Row-major A: read each row contiguously along k, scatter into the panel's column.
      for (int i = 0; i < rows; i++) {
        const float* src = p.A + (long)(ic + i0 + i) * p.rsA + pc;
        for (int k = 0; k < kc; k++) dst[k * MR + i] = src[k];
      }
      for (int i = rows; i < MR; i++)
        for (int k = 0; k < kc; k++) dst[k * MR + i] = 0.0f;
      continue;
    }
    for (int k = 0; k < kc; k++) {
      const float* src = p.A + (long)(pc + k) * p.csA + (long)(ic + i0) * p.rsA;
      int i = 0;
      for (; i < rows; i++) dst[k * MR + i] = src[(long)i * p.rsA];
      for (; i < MR; i++) dst[k * MR + i] = 0.0f;
    }
  }
}

void pack_b(const GemmProblem& p, int jc, int nc, int pc, int kc, int NR, float* out) {
  for (int j0 = 0; j0 < nc; j0 += NR) {
    float* dst = out + (long)(j0 / NR) * kc * NR;
    const int cols = nc - j0 < NR ? nc - j0 : NR;
    if (p.rsB == 1 && p.csB != 1) {
      // Transposed B (a weight stored [N, K]): read each column contiguously along k.
      for (int j = 0; j < cols; j++) {
        const long base = (long)pc + (long)(jc + j0 + j) * p.csB;
        if (p.bBf16) {
          const uint16_t* src = (const uint16_t*)p.B + base;
          for (int k = 0; k < kc; k++) dst[k * NR + j] = bf16_to_f32(src[k]);
        } else {
          const float* src = (const float*)p.B + base;
          for (int k = 0; k < kc; k++) dst[k * NR + j] = src[k];
        }
      }
      for (int j = cols; j < NR; j++)
        for (int k = 0; k < kc; k++) dst[k * NR + j] = 0.0f;
      continue;
    }
    for (int k = 0; k < kc; k++) {
      const long base = (long)(pc + k) * p.rsB + (long)(jc + j0) * p.csB;
      float* d = dst + k * NR;
      if (p.bBf16) {
        const uint16_t* src = (const uint16_t*)p.B + base;
        int j = 0;
        for (; j < cols; j++) d[j] = bf16_to_f32(src[(long)j * p.csB]);
        for (; j < NR; j++) d[j] = 0.0f;
      } else {
        const float* src = (const float*)p.B + base;
        int j = 0;
        if (p.csB == 1) {
          std::memcpy(d, src, sizeof(float) * cols);
          j = cols;
        } else {
          for (; j < cols; j++) d[j] = src[(long)j * p.csB];
        }
        for (; j < NR; j++) d[j] = 0.0f;
      }
    }
  }
}

void dots_scalar(int M, int K, const float* A, long lda, const void* B, bool bf16, long ldb, int n0, int n1, float* C, long ldc, float alpha, float beta) {
  for (int j = n0; j < n1; j++) {
    for (int i = 0; i < M; i++) {
      float d = 0.0f;
      for (int k = 0; k < K; k++) {
        const float b = bf16 ? bf16_to_f32(((const uint16_t*)B)[(long)j * ldb + k]) : ((const float*)B)[(long)j * ldb + k];
        d += A[(long)i * lda + k] * b;
      }
      d *= alpha;
      float* c = C + (long)i * ldc + j;
      *c = beta == 0.0f ? d : d + beta * *c;
    }
  }
}

/** C[m0:m1, n0:n1] of the problem, single-threaded. */
void gemm_block(const GemmProblem& p, int m0, int m1, int n0, int n1, const KernelSet& ks) {
  const int MR = ks.MR, NR = ks.NR;
  thread_local std::vector<float> abuf, bbuf;
  abuf.resize((size_t)(MC + MR) * KC);
  bbuf.resize((size_t)(NC + NR) * KC);
  float tile[12 * 32];
  for (int jc = n0; jc < n1; jc += NC) {
    const int nc = n1 - jc < NC ? n1 - jc : NC;
    for (int pc = 0; pc < p.K; pc += KC) {
      const int kc = p.K - pc < KC ? p.K - pc : KC;
      const float beta = pc == 0 ? p.beta : 1.0f;
      pack_b(p, jc, nc, pc, kc, NR, bbuf.data());
      for (int ic = m0; ic < m1; ic += MC) {
        const int mc = m1 - ic < MC ? m1 - ic : MC;
        pack_a(p, ic, mc, pc, kc, MR, abuf.data());
        for (int jr = 0; jr < nc; jr += NR) {
          const float* bp = bbuf.data() + (long)(jr / NR) * kc * NR;
          const int nr = nc - jr < NR ? nc - jr : NR;
          for (int ir = 0; ir < mc; ir += MR) {
            const float* ap = abuf.data() + (long)(ir / MR) * kc * MR;
            const int mr = mc - ir < MR ? mc - ir : MR;
            float* c = p.C + (long)(ic + ir) * p.ldc + (jc + jr);
            if (mr == MR && nr == NR) {
              ks.ukr(kc, ap, bp, c, p.ldc, p.alpha, beta);
            } else {
              ks.ukr(kc, ap, bp, tile, NR, p.alpha, 0.0f);
              for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) {
                  float* cij = c + (long)i * p.ldc + j;
                  *cij = beta == 0.0f ? tile[i * NR + j] : tile[i * NR + j] + beta * *cij;
                }
            }
          }
        }
      }
    }
  }
}
}  // namespace

KernelSet select_kernels() {
  if (current.ukr) return current;
  const char* force = std::getenv("VLM2VLA_ISA");
  auto want = [&](const char* isa) { return force == nullptr || force[0] == '\0' || std::strcmp(force, isa) == 0; };
  if (want("avx512") && __builtin_cpu_supports("avx512f")) current = {"avx512", 12, 32, ukr_avx512_12x32, dots_avx512};
  else if (want("avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) current = {"avx2", 6, 16, ukr_avx2_6x16, dots_avx2};
  else current = {"scalar", 4, 8, ukr_scalar_4x8, dots_scalar};
  return current;
}

bool set_isa(const char* isa) {
  if (std::strcmp(isa, "avx512") == 0 && __builtin_cpu_supports("avx512f")) current = {"avx512", 12, 32, ukr_avx512_12x32, dots_avx512};
  else if (std::strcmp(isa, "avx2") == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) current = {"avx2", 6, 16, ukr_avx2_6x16, dots_avx2};
  else if (std::strcmp(isa, "scalar") == 0) current = {"scalar", 4, 8, ukr_scalar_4x8, dots_scalar};
  else return false;
  return true;
}

const char* gemm_isa() { return select_kernels().name; }

void gemm(const GemmProblem& p) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K == 0) {
    for (int i = 0; i < p.M; i++)
      for (int j = 0; j < p.N; j++) {
        float* c = p.C + (long)i * p.ldc + j;
        *c = p.beta == 0.0f ? 0.0f : p.beta * *c;
      }
    return;
  }
  const KernelSet ks = select_kernels();
  const int threads = pool_threads();
  const double work = (double)p.M * p.N * p.K;
  // Decoding: a few rows of A against a weight stored [N, K] (rows contiguous along K). Memory-bound.
  // Weights of 64 KiB and more are split by rows across the threads: the pool's workers spin between
  // jobs (pool.cc), so handing them half of even a 256 x 256 matrix costs well under a microsecond,
  // and two threads keep more reads in flight than one. Sleeping workers (VLM2VLA_SPIN_US=0) take
  // ~13 us to wake, and then only weights of 2 MiB and more are worth splitting. Spinning plus the
  // lower threshold made the 10M bench model decode ~1.5x faster (bench/RESULTS.md, 2026-11-29,
  // session 11). Each row's dot is the same code either way, so the result does not depend on the
  // split.
  if (p.M <= 4 && p.csA == 1 && p.rsB == 1) {
    const double bytes = (double)p.N * p.K * (p.bBf16 ? 2 : 4);
    const double split = pool_spins() ? 64.0 * 1024 : 2.0 * 1024 * 1024;
    if (threads > 1 && p.N >= 2 * threads && bytes >= split) {
      const int per = (p.N + threads - 1) / threads;
      parallel_for(threads, [&](int t) {
        const int a = t * per;
        const int b = a + per < p.N ? a + per : p.N;
        if (a < b) ks.dots(p.M, p.K, p.A, p.rsA, p.B, p.bBf16, p.csB, a, b, p.C, p.ldc, p.alpha, p.beta);
      });
      return;
    }
    ks.dots(p.M, p.K, p.A, p.rsA, p.B, p.bBf16, p.csB, 0, p.N, p.C, p.ldc, p.alpha, p.beta);
    return;
  }
  if (threads == 1 || work < 262144.0) {
    gemm_block(p, 0, p.M, 0, p.N, ks);
    return;
  }
  // Split the larger of M and N into `threads` strips aligned to the microtile.
  const bool splitN = p.N >= p.M;
  const int extent = splitN ? p.N : p.M;
  const int unit = splitN ? ks.NR : ks.MR;
  int parts = threads;
  const int units = (extent + unit - 1) / unit;
  if (parts > units) parts = units;
  const int per = ((units + parts - 1) / parts) * unit;
  parallel_for(parts, [&](int t) {
    const int a = t * per;
    const int b = a + per < extent ? a + per : extent;
    if (a >= b) return;
    if (splitN) gemm_block(p, 0, p.M, a, b, ks);
    else gemm_block(p, a, b, 0, p.N, ks);
  });
}
}  // namespace vlm2vla
