// Row-wise, elementwise and attention kernels. Rows are spread over the thread pool when the work is
// large enough; attention runs one task per (batch, query head) with an online softmax, so memory
// stays O(Dh) per query row however long the sequence.
#include "kernels.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "pool.h"

// Hot kernels are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time (GCC
// function multiversioning); `omp simd` lets the compiler vectorize their reductions.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VLM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VLM_CLONES
#endif

namespace vlm2vla {
namespace {
/** Runs fn(r0, r1) over row ranges, in parallel when rows*cost is large. */
template <typename F>
void for_rows(long rows, long cost, F fn) {
  const int t = pool_threads();
  if (t == 1 || rows * cost < 65536 || rows < 2) {
    fn(0L, rows);
    return;
  }
  const long parts = rows < t * 4 ? rows : t * 4;
  const long per = (rows + parts - 1) / parts;
  parallel_for((int)parts, [&](int i) {
    const long a = i * per;
    const long b = a + per < rows ? a + per : rows;
    if (a < b) fn(a, b);
  });
}

/** parallel_for when the total work is worth waking the pool (~13 us on the 2-vCPU machines). */
template <typename F>
void tasks(long n, double work, F fn) {
  if (pool_threads() == 1 || n < 2 || work < 131072.0) {
    for (long i = 0; i < n; i++) fn((int)i);
    return;
  }
  parallel_for((int)n, fn);
}

const float GELU_C = 0.7978845608028654f;  // sqrt(2 / pi)
/** exp(x) in float arithmetic without branches or library calls, so loops over it vectorize (libm's
 *  expf stays scalar without -ffast-math). x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts so n ln2
 *  is exact), a degree-6 polynomial for e^r, and 2^n built in the exponent bits; within 2 ulp of
 *  expf. Below -87.3 (where e^x leaves the normal range) it returns 0, above 88.7 +inf. */
inline float exp_f(float x) {
  const float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float n = std::floor(xc * 1.44269504089f + 0.5f);
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = __builtin_bit_cast(float, ((int32_t)n + 127) << 23);
  const float y = p * scale;
  return x < -87.3f ? 0.0f : (x > 88.7f ? INFINITY : y);
}
// tanh through exp: tanh(u) = 1 - 2 / (exp(2u) + 1), exact to float rounding.
inline float tanh_f(float u) { return 1.0f - 2.0f / (exp_f(2.0f * u) + 1.0f); }
inline float gelu_s(float x) { return 0.5f * x * (1.0f + tanh_f(GELU_C * (x + 0.044715f * x * x * x))); }
inline float gelu_g(float x) {
  const float th = tanh_f(GELU_C * (x + 0.044715f * x * x * x));
  return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
}
inline double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double silu_s(double x) { return x * sigm(x); }
inline double silu_g(double x) {
  const double s = sigm(x);
  return s * (1 + x * (1 - s));
}
}  // namespace

void softmax(const float* x, float* y, long rows, long cols) {
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float mx = -INFINITY;
      for (long c = 0; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
      double sum = 0;
      for (long c = 0; c < cols; c++) {
        const float e = std::exp(xr[c] - mx);
        yr[c] = e;
        sum += e;
      }
      const float inv = (float)(1.0 / sum);
      for (long c = 0; c < cols; c++) yr[c] *= inv;
    }
  });
}

void softmax_backward(const float* y, const float* dy, float* dx, long rows, long cols) {
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* yr = y + r * cols;
      const float* g = dy + r * cols;
      float* d = dx + r * cols;
      double dot = 0;
      for (long c = 0; c < cols; c++) dot += (double)g[c] * yr[c];
      for (long c = 0; c < cols; c++) d[c] = yr[c] * (float)(g[c] - dot);
    }
  });
}

void layer_norm(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, long rows, long cols, float eps) {
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      double mu = 0;
      for (long c = 0; c < cols; c++) mu += xr[c];
      mu /= cols;
      double var = 0;
      for (long c = 0; c < cols; c++) var += (xr[c] - mu) * (xr[c] - mu);
      const float rs = (float)(1.0 / std::sqrt(var / cols + eps));
      mean[r] = (float)mu;
      rstd[r] = rs;
      float* yr = y + r * cols;
      const float m = (float)mu;
      for (long c = 0; c < cols; c++) yr[c] = (xr[c] - m) * rs * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
    }
  });
}

void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx, float* dw, float* db, long rows, long cols) {
  // dw/db are reductions over rows: computed serially per column block to stay deterministic.
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      const float* g = dy + r * cols;
      const float mu = mean[r], rs = rstd[r];
      double sg = 0, sgx = 0;
      for (long c = 0; c < cols; c++) {
        const double xh = (xr[c] - mu) * rs;
        const double gg = g[c] * (w ? w[c] : 1.0f);
        sg += gg;
        sgx += gg * xh;
      }
      float* d = dx + r * cols;
      for (long c = 0; c < cols; c++) {
        const double xh = (xr[c] - mu) * rs;
        const double gg = g[c] * (w ? w[c] : 1.0f);
        d[c] = (float)(rs * (gg - sg / cols - xh * sgx / cols));
      }
    }
  });
  if (dw || db) {
    for (long r = 0; r < rows; r++) {
      const float* xr = x + r * cols;
      const float* g = dy + r * cols;
      const float mu = mean[r], rs = rstd[r];
      for (long c = 0; c < cols; c++) {
        if (dw) dw[c] += g[c] * (xr[c] - mu) * rs;
        if (db) db[c] += g[c];
      }
    }
  }
}

VLM_CLONES static void rms_norm_rows(const float* x, const float* w, float* y, float* rstd, long r0, long r1, long cols, float eps, bool add_one) {
  const float one = add_one ? 1.0f : 0.0f;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (long c = 0; c < cols; c++) ss += (double)xr[c] * xr[c];
    const float rs = (float)(1.0 / std::sqrt(ss / cols + eps));
    rstd[r] = rs;
    float* yr = y + r * cols;
#pragma omp simd
    for (long c = 0; c < cols; c++) yr[c] = xr[c] * rs * (one + w[c]);
  }
}
VLM_CLONES static void rms_norm_backward_rows(const float* x, const float* w, const float* rstd, const float* dy, float* dx, long r0, long r1, long cols, bool add_one) {
  const float one = add_one ? 1.0f : 0.0f;
  for (long r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    const float* g = dy + r * cols;
    const double rs = rstd[r];
    double dot = 0;
#pragma omp simd reduction(+ : dot)
    for (long c = 0; c < cols; c++) dot += (double)(g[c] * (one + w[c])) * xr[c];
    const float a = (float)rs, b = (float)(rs * rs * rs * dot / cols);
    float* d = dx + r * cols;
#pragma omp simd
    for (long c = 0; c < cols; c++) d[c] = a * g[c] * (one + w[c]) - b * xr[c];
  }
}
/** dw[c] += sum over rows of dy * x * rstd, for columns [c0, c1). */
VLM_CLONES static void rms_norm_dw_cols(const float* x, const float* rstd, const float* dy, float* dw, long rows, long cols, long c0, long c1) {
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    const float* g = dy + r * cols;
    const float rs = rstd[r];
#pragma omp simd
    for (long c = c0; c < c1; c++) dw[c] += g[c] * xr[c] * rs;
  }
}

void rms_norm(const float* x, const float* w, float* y, float* rstd, long rows, long cols, float eps, bool add_one) {
  for_rows(rows, cols, [&](long r0, long r1) { rms_norm_rows(x, w, y, rstd, r0, r1, cols, eps, add_one); });
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, long rows, long cols, bool add_one) {
  for_rows(rows, cols, [&](long r0, long r1) { rms_norm_backward_rows(x, w, rstd, dy, dx, r0, r1, cols, add_one); });
  // Columns in blocks of 16 (whole vectors) so threads never share a cache line of dw.
  const long blocks = (cols + 15) / 16;
  for_rows(blocks, rows * 16, [&](long a, long b) { rms_norm_dw_cols(x, rstd, dy, dw, rows, cols, a * 16, b * 16 < cols ? b * 16 : cols); });
}

VLM_CLONES static void gelu_range(const float* x, float* y, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) y[i] = gelu_s(x[i]);
}
VLM_CLONES static void gelu_backward_range(const float* x, const float* dy, float* dx, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) dx[i] = dy[i] * gelu_g(x[i]);
}
void gelu(const float* x, float* y, long n) {
  for_rows(n, 16, [&](long a, long b) { gelu_range(x, y, a, b); });
}
void gelu_backward(const float* x, const float* dy, float* dx, long n) {
  for_rows(n, 16, [&](long a, long b) { gelu_backward_range(x, dy, dx, a, b); });
}
void silu(const float* x, float* y, long n) {
  for_rows(n, 16, [&](long a, long b) { for (long i = a; i < b; i++) y[i] = (float)silu_s(x[i]); });
}
void silu_backward(const float* x, const float* dy, float* dx, long n) {
  for_rows(n, 16, [&](long a, long b) { for (long i = a; i < b; i++) dx[i] = (float)(dy[i] * silu_g(x[i])); });
}
VLM_CLONES static void geglu_range(const float* gate, const float* up, float* y, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) y[i] = gelu_s(gate[i]) * up[i];
}
VLM_CLONES static void geglu_backward_range(const float* gate, const float* up, const float* dy, float* dgate, float* dup, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) {
    const float x = gate[i];
    const float th = tanh_f(GELU_C * (x + 0.044715f * x * x * x));
    const float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
    dgate[i] = dy[i] * up[i] * g;
    dup[i] = dy[i] * (0.5f * x * (1.0f + th));
  }
}
VLM_CLONES static void swiglu_range(const float* gate, const float* up, float* y, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) y[i] = gate[i] / (1.0f + exp_f(-gate[i])) * up[i];
}
VLM_CLONES static void swiglu_backward_range(const float* gate, const float* up, const float* dy, float* dgate, float* dup, long a, long b) {
#pragma omp simd
  for (long i = a; i < b; i++) {
    const float x = gate[i];
    const float sg = 1.0f / (1.0f + exp_f(-x));
    dgate[i] = dy[i] * up[i] * (sg * (1.0f + x * (1.0f - sg)));
    dup[i] = dy[i] * (x * sg);
  }
}
void gated_act(bool geglu, const float* gate, const float* up, float* y, long n) {
  for_rows(n, 16, [&](long a, long b) { geglu ? geglu_range(gate, up, y, a, b) : swiglu_range(gate, up, y, a, b); });
}
void gated_act_backward(bool geglu, const float* gate, const float* up, const float* dy, float* dgate, float* dup, long n) {
  for_rows(n, 16, [&](long a, long b) { geglu ? geglu_backward_range(gate, up, dy, dgate, dup, a, b) : swiglu_backward_range(gate, up, dy, dgate, dup, a, b); });
}

void rope(float* x, const int32_t* pos, const float* inv_freq, long N, long H, long Dh, bool inverse) {
  const long half = Dh / 2;
  for_rows(N, H * Dh * 4, [&](long a, long b) {
    for (long n = a; n < b; n++) {
      for (long i = 0; i < half; i++) {
        const double angle = (double)pos[n] * inv_freq[i];
        const float c = (float)std::cos(angle);
        const float s = (float)(inverse ? -std::sin(angle) : std::sin(angle));
        for (long h = 0; h < H; h++) {
          float* r = x + (n * H + h) * Dh;
          const float u = r[i], v = r[i + half];
          r[i] = u * c - v * s;
          r[i + half] = v * c + u * s;
        }
      }
    }
  });
}

void embedding(const float* table, const int32_t* ids, float* out, long N, long D) {
  for (long n = 0; n < N; n++) std::memcpy(out + n * D, table + (long)ids[n] * D, sizeof(float) * D);
}
void embedding_backward(const float* dout, const int32_t* ids, float* dtable, long N, long D) {
  for (long n = 0; n < N; n++) {
    float* t = dtable + (long)ids[n] * D;
    const float* g = dout + n * D;
    for (long d = 0; d < D; d++) t[d] += g[d];
  }
}

long cross_entropy(const float* logits, const int32_t* targets, long ignore, float* losses, float* lse, long N, long V) {
  for_rows(N, V, [&](long a, long b) {
    for (long n = a; n < b; n++) {
      const float* l = logits + n * V;
      float mx = -INFINITY;
      for (long v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
      double sum = 0;
      for (long v = 0; v < V; v++) sum += std::exp((double)l[v] - mx);
      const double z = mx + std::log(sum);
      lse[n] = (float)z;
      losses[n] = targets[n] == ignore ? 0.0f : (float)(z - l[targets[n]]);
    }
  });
  long count = 0;
  for (long n = 0; n < N; n++) count += targets[n] != ignore;
  return count;
}

void cross_entropy_backward(const float* logits, const int32_t* targets, long ignore, const float* lse, float scale, float* dlogits, long N, long V) {
  for_rows(N, V, [&](long a, long b) {
    for (long n = a; n < b; n++) {
      const float* l = logits + n * V;
      float* d = dlogits + n * V;
      const long t = targets[n];
      if (t == ignore) {
        std::memset(d, 0, sizeof(float) * V);
        continue;
      }
      const float z = lse[n];
      for (long v = 0; v < V; v++) d[v] = scale * (std::exp(l[v] - z) - (v == t ? 1.0f : 0.0f));
    }
  });
}

namespace {
inline bool visible(const AttnShape& s, long b, long t, long j) {
  const long i = s.qOffset + t;
  if (s.kvStart && j < s.kvStart[b]) return false;
  if (s.kvLen && j >= s.kvLen[b]) return false;
  if (s.causal && j > i) {
    if (!s.blocks || i >= s.Tk) return false;
    const int32_t bi = s.blocks[b * s.Tk + i];
    if (bi == 0 || s.blocks[b * s.Tk + j] != bi) return false;
  }
  if (s.window > 0 && i - j >= s.window) return false;
  return true;
}
/** Keys [lo, hi) that can be visible to query t (a cheap superset; visible() decides). */
inline void key_range(const AttnShape& s, long b, long t, long& lo, long& hi) {
  lo = 0;
  hi = s.Tk;
  if (s.kvStart) lo = s.kvStart[b];
  if (s.kvLen && s.kvLen[b] < hi) hi = s.kvLen[b];
  if (s.causal) {
    // Past the query only keys of its own bidirectional block are visible (up to the block's last).
    const long i = s.qOffset + t;
    long end = i + 1;
    if (s.blocks && i < s.Tk) {
      const int32_t bi = s.blocks[b * s.Tk + i];
      if (bi != 0)
        for (long j = s.Tk - 1; j > i; j--)
          if (s.blocks[b * s.Tk + j] == bi) {
            end = j + 1;
            break;
          }
    }
    if (end < hi) hi = end;
  }
  if (s.window > 0) {
    const long first = s.qOffset + t - s.window + 1;
    if (first > lo) lo = first;
  }
}
}  // namespace

static inline __attribute__((always_inline)) float dot_f(const float* a, const float* b, long n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (long d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}
static inline __attribute__((always_inline)) void axpy_f(float a, const float* x, float* y, long n) {
#pragma omp simd
  for (long d = 0; d < n; d++) y[d] += a * x[d];
}

/** Per-thread scratch of the forward pass: K of one (batch row, KV head) transposed to [Dh][Tk],
 *  and one query row's scores (O(Dh Tk), not O(Tq Tk)). */
struct AttnScratch {
  std::vector<float> kt, p;
  std::vector<uint8_t> vis;
  void fit(long Dh, long Tk) {
    if (kt.size() < (size_t)(Dh * Tk)) kt.resize(Dh * Tk);
    if ((long)p.size() < Tk) {
      p.resize(Tk);
      vis.resize(Tk);
    }
  }
};

/** One (batch row, query head) of the forward pass. K is transposed once, so each query row's scores
 *  run as vectors over its keys (no horizontal sums); then a softmax (exp vectorized) and the
 *  weighted sum of value rows. Cloned per ISA so the loops vectorize. */
VLM_CLONES static void attention_task(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse, long task, AttnScratch& w) {
  const long group = s.Hq / s.Hkv;
  const long b = task / s.Hq, h = task % s.Hq, hk = h / group;
  const long Tk = s.Tk, Dh = s.Dh;
  const long kvo = b * s.kvStride + hk * Dh, rowStride = s.Hkv * Dh;
  w.fit(s.Tq < 8 ? 0 : Dh, Tk);
  float* kt = w.kt.data();
  float* p = w.p.data();
  uint8_t* vis = w.vis.data();
  // With few query rows (decoding) the transpose would cost as much as the scores: dot products then.
  const bool direct = s.Tq < 8;
  // Transpose only the keys some query row of this task can see.
  long klo = Tk, khi = 0;
  for (long t = 0; t < (direct ? 0 : s.Tq); t++) {
    long lo, hi;
    key_range(s, b, t, lo, hi);
    if (lo < hi) {
      klo = lo < klo ? lo : klo;
      khi = hi > khi ? hi : khi;
    }
  }
  for (long j = klo; j < khi; j++) {
    const float* kr = k + kvo + j * rowStride;
    for (long d = 0; d < Dh; d++) kt[d * Tk + j] = kr[d];
  }
  for (long t = 0; t < s.Tq; t++) {
    const float* qr = q + ((b * s.Tq + t) * s.Hq + h) * Dh;
    float* o = out + ((b * s.Tq + t) * s.Hq + h) * Dh;
    const long li = (b * s.Hq + h) * s.Tq + t;
    std::memset(o, 0, sizeof(float) * Dh);
    long lo, hi;
    key_range(s, b, t, lo, hi);
    const long n = hi - lo;
    bool any = false;
    for (long m = 0; m < n; m++) {
      vis[m] = s.blocks ? (uint8_t)visible(s, b, t, lo + m) : 1;
      any = any || vis[m];
    }
    if (!any) {
      lse[li] = -INFINITY;
      continue;
    }
    if (direct) {
      for (long m = 0; m < n; m++) p[m] = dot_f(qr, k + kvo + (lo + m) * rowStride, Dh) * s.scale;
    } else {
      std::memset(p, 0, sizeof(float) * n);
      for (long d = 0; d < Dh; d++) {
        const float qd = qr[d] * s.scale;
        const float* kr = kt + d * Tk + lo;
#pragma omp simd
        for (long m = 0; m < n; m++) p[m] += qd * kr[m];
      }
    }
    float mx = -INFINITY;
    for (long m = 0; m < n; m++)
      if (vis[m] && p[m] > mx) mx = p[m];
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (long m = 0; m < n; m++) {
      const float e = exp_f(p[m] - mx);
      p[m] = vis[m] ? e : 0.0f;
      sum += p[m];
    }
    const float inv = 1.0f / sum;
    for (long m = 0; m < n; m++)
      if (p[m] != 0.0f) axpy_f(p[m] * inv, v + kvo + (lo + m) * rowStride, o, Dh);
    lse[li] = mx + std::log(sum);
  }
}

void attention(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse) {
  tasks(s.B * s.Hq, (double)s.B * s.Hq * s.Tq * s.Tk * s.Dh, [&](int task) {
    thread_local AttnScratch w;
    attention_task(s, q, k, v, out, lse, task, w);
  });
}

/** Per-thread scratch of the backward pass: K and V of one (batch row, KV head) transposed to
 *  [Dh][Tk] with their gradients, and one query row's scores (O(Dh Tk), not O(Tq Tk)). */
struct AttnBackScratch {
  std::vector<float> kt, vt, dkt, dvt, p, dp, dS;
  std::vector<uint8_t> vis;
  void fit(long Dh, long Tk) {
    const size_t m = (size_t)(Dh * Tk);
    if (kt.size() < m) {
      kt.resize(m);
      vt.resize(m);
      dkt.resize(m);
      dvt.resize(m);
    }
    if ((long)p.size() < Tk) {
      p.resize(Tk);
      dp.resize(Tk);
      dS.resize(Tk);
      vis.resize(Tk);
    }
  }
};

/** One (batch row, KV head) of the backward pass (its query heads inside, so dk/dv never race). K and
 *  V are transposed once, so each query row's scores, dP and the dK/dV updates run as vectors over
 *  its keys (no horizontal sums), and the probabilities come from the saved log-sum-exp. Cloned per
 *  ISA so the loops vectorize. */
VLM_CLONES static void attention_backward_task(const AttnShape& s, const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv, long task, AttnBackScratch& w) {
  const long group = s.Hq / s.Hkv;
  const long b = task / s.Hkv, hk = task % s.Hkv;
  const long Tk = s.Tk, Dh = s.Dh;
  w.fit(Dh, Tk);
  float* kt = w.kt.data();
  float* vt = w.vt.data();
  float* dkt = w.dkt.data();
  float* dvt = w.dvt.data();
  float* p = w.p.data();
  float* dp = w.dp.data();
  float* dS = w.dS.data();
  uint8_t* vis = w.vis.data();
  const long kvo = b * s.kvStride + hk * Dh, rowStride = s.Hkv * Dh;
  for (long j = 0; j < Tk; j++) {
    const float* kr = k + kvo + j * rowStride;
    const float* vr = v + kvo + j * rowStride;
    for (long d = 0; d < Dh; d++) {
      kt[d * Tk + j] = kr[d];
      vt[d * Tk + j] = vr[d];
    }
  }
  std::memset(dkt, 0, sizeof(float) * Dh * Tk);
  std::memset(dvt, 0, sizeof(float) * Dh * Tk);
  for (long h = hk * group; h < (hk + 1) * group; h++) {
    for (long t = 0; t < s.Tq; t++) {
      const long qo = ((b * s.Tq + t) * s.Hq + h) * Dh;
      const float l = lse[(b * s.Hq + h) * s.Tq + t];
      float* dqr = dq + qo;
      std::memset(dqr, 0, sizeof(float) * Dh);
      if (l == -INFINITY) continue;
      const float* qr = q + qo;
      const float* gr = dout + qo;
      const float D = dot_f(gr, out + qo, Dh);
      long lo, hi;
      key_range(s, b, t, lo, hi);
      const long n = hi - lo;
      if (n <= 0) continue;
      // key_range is exact except for block masks (bidirectional image spans).
      for (long m = 0; m < n; m++) vis[m] = s.blocks ? (uint8_t)visible(s, b, t, lo + m) : 1;
      std::memset(p, 0, sizeof(float) * n);
      std::memset(dp, 0, sizeof(float) * n);
      for (long d = 0; d < Dh; d++) {
        const float qd = qr[d], gd = gr[d];
        const float* kr = kt + d * Tk + lo;
        const float* vr = vt + d * Tk + lo;
#pragma omp simd
        for (long m = 0; m < n; m++) {
          p[m] += qd * kr[m];
          dp[m] += gd * vr[m];
        }
      }
      const float sc = s.scale;
#pragma omp simd
      for (long m = 0; m < n; m++) {
        const float e = exp_f(p[m] * sc - l);
        const float pm = vis[m] ? e : 0.0f;
        p[m] = pm;
        dS[m] = pm * (dp[m] - D) * sc;
      }
      for (long m = 0; m < n; m++) axpy_f(dS[m], k + kvo + (lo + m) * rowStride, dqr, Dh);
      for (long d = 0; d < Dh; d++) {
        const float qd = qr[d], gd = gr[d];
        float* dkr = dkt + d * Tk + lo;
        float* dvr = dvt + d * Tk + lo;
#pragma omp simd
        for (long m = 0; m < n; m++) {
          dkr[m] += dS[m] * qd;
          dvr[m] += p[m] * gd;
        }
      }
    }
  }
  for (long j = 0; j < Tk; j++) {
    float* dkr = dk + kvo + j * rowStride;
    float* dvr = dv + kvo + j * rowStride;
    for (long d = 0; d < Dh; d++) {
      dkr[d] += dkt[d * Tk + j];
      dvr[d] += dvt[d * Tk + j];
    }
  }
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  tasks(s.B * s.Hkv, (double)s.B * s.Hq * s.Tq * s.Tk * s.Dh * 3, [&](int task) {
    thread_local AttnBackScratch w;
    attention_backward_task(s, q, k, v, out, lse, dout, dq, dk, dv, task, w);
  });
}

void adamw(float* p, const float* g, float* m, float* v, long n, float lr, float b1, float b2, float eps, float wd, long step) {
  const double c1 = 1 - std::pow((double)b1, (double)step);
  const double c2 = 1 - std::pow((double)b2, (double)step);
  for_rows(n, 8, [&](long a, long b) {
    for (long i = a; i < b; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mh = m[i] / c1, vh = v[i] / c2;
      p[i] -= (float)(lr * (mh / (std::sqrt(vh) + eps) + wd * p[i]));
    }
  });
}

double sum_squares(const float* x, long n) {
  double s = 0;
  for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}
void scale(float* x, float f, long n) {
  for (long i = 0; i < n; i++) x[i] *= f;
}
void axpy(float a, const float* x, float* y, long n) {
  for (long i = 0; i < n; i++) y[i] += a * x[i];
}

void f32_to_bf16(const float* src, uint16_t* dst, long n) {
  for (long i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, src + i, 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) dst[i] = (uint16_t)((u >> 16) | 0x40);
    else dst[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
}
void bf16_to_f32(const uint16_t* src, float* dst, long n) {
  for (long i = 0; i < n; i++) {
    const uint32_t u = (uint32_t)src[i] << 16;
    std::memcpy(dst + i, &u, 4);
  }
}
void f32_to_f16(const float* src, uint16_t* dst, long n) {
  for (long i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const int exp = (bits >> 23) & 0xff;
    uint32_t mant = bits & 0x7fffffu;
    if (exp == 0xff) {
      dst[i] = (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
      continue;
    }
    int e = exp - 127 + 15;
    if (e >= 0x1f) {
      dst[i] = (uint16_t)(sign | 0x7c00u);
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        dst[i] = (uint16_t)sign;
        continue;
      }
      mant |= 0x800000u;
      const int shift = 14 - e;
      const uint32_t half = 1u << (shift - 1);
      const uint32_t rest = mant & ((1u << shift) - 1);
      uint32_t m = mant >> shift;
      if (rest > half || (rest == half && (m & 1))) m++;
      dst[i] = (uint16_t)(sign | m);
      continue;
    }
    const uint32_t rest = mant & 0x1fffu;
    uint32_t m = mant >> 13;
    if (rest > 0x1000u || (rest == 0x1000u && (m & 1))) {
      m++;
      if (m == 0x400u) {
        m = 0;
        e++;
        if (e >= 0x1f) {
          dst[i] = (uint16_t)(sign | 0x7c00u);
          continue;
        }
      }
    }
    dst[i] = (uint16_t)(sign | ((uint32_t)e << 10) | m);
  }
}
void f16_to_f32(const uint16_t* src, float* dst, long n) {
  for (long i = 0; i < n; i++) {
    const uint16_t h = src[i];
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    if (exp == 0) dst[i] = sign * std::ldexp((float)mant, -24);
    else if (exp == 0x1f) dst[i] = mant ? NAN : sign * INFINITY;
    else dst[i] = sign * std::ldexp(1.0f + mant / 1024.0f, exp - 15);
  }
}
}  // namespace vlm2vla
