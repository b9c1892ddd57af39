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
// tanh through exp (vectorizable): tanh(u) = 1 - 2 / (exp(2u) + 1), exact to float rounding.
inline float tanh_f(float u) { return 1.0f - 2.0f / (std::exp(2.0f * u) + 1.0f); }
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

void rms_norm(const float* x, const float* w, float* y, float* rstd, long rows, long cols, float eps, bool add_one) {
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      double ss = 0;
      for (long c = 0; c < cols; c++) ss += (double)xr[c] * xr[c];
      const float rs = (float)(1.0 / std::sqrt(ss / cols + eps));
      rstd[r] = rs;
      float* yr = y + r * cols;
      for (long c = 0; c < cols; c++) yr[c] = xr[c] * rs * (add_one ? 1.0f + w[c] : w[c]);
    }
  });
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, long rows, long cols, bool add_one) {
  for_rows(rows, cols, [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      const float* g = dy + r * cols;
      const double rs = rstd[r];
      double dot = 0;
      for (long c = 0; c < cols; c++) dot += (double)g[c] * (add_one ? 1.0f + w[c] : w[c]) * xr[c];
      float* d = dx + r * cols;
      for (long c = 0; c < cols; c++) d[c] = (float)(rs * g[c] * (add_one ? 1.0f + w[c] : w[c]) - rs * rs * rs * xr[c] * dot / cols);
    }
  });
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    const float* g = dy + r * cols;
    const float rs = rstd[r];
    for (long c = 0; c < cols; c++) dw[c] += g[c] * xr[c] * rs;
  }
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
void gated_act(bool geglu, const float* gate, const float* up, float* y, long n) {
  for_rows(n, 16, [&](long a, long b) {
    for (long i = a; i < b; i++) y[i] = (float)((geglu ? (double)gelu_s(gate[i]) : silu_s(gate[i])) * up[i]);
  });
}
void gated_act_backward(bool geglu, const float* gate, const float* up, const float* dy, float* dgate, float* dup, long n) {
  for_rows(n, 16, [&](long a, long b) {
    for (long i = a; i < b; i++) {
      const double g = gate[i];
      dgate[i] = (float)(dy[i] * up[i] * (geglu ? (double)gelu_g((float)g) : silu_g(g)));
      dup[i] = (float)(dy[i] * (geglu ? (double)gelu_s((float)g) : silu_s(g)));
    }
  });
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
  if (s.causal && !s.blocks) {
    const long i = s.qOffset + t;
    if (i + 1 < hi) hi = i + 1;
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
static inline __attribute__((always_inline)) void scale_add_f(float c, float* y, const float* x, long n) {
#pragma omp simd
  for (long d = 0; d < n; d++) y[d] = y[d] * c + x[d];
}

/** One (batch row, query head) of the forward pass; cloned per ISA so the helpers inline as vectors. */
VLM_CLONES static void attention_task(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse, long task, float* acc) {
  const long group = s.Hq / s.Hkv;
  const long b = task / s.Hq, h = task % s.Hq, hk = h / group;
  for (long t = 0; t < s.Tq; t++) {
    const float* qr = q + ((b * s.Tq + t) * s.Hq + h) * s.Dh;
    float* o = out + ((b * s.Tq + t) * s.Hq + h) * s.Dh;
    long lo, hi;
    key_range(s, b, t, lo, hi);
    float mx = -INFINITY;
    double sum = 0;
    std::fill(acc, acc + s.Dh, 0.0f);
    for (long j = lo; j < hi; j++) {
      if (!visible(s, b, t, j)) continue;
      const float* kr = k + b * s.kvStride + (j * s.Hkv + hk) * s.Dh;
      const float sc = dot_f(qr, kr, s.Dh) * s.scale;
      const float* vr = v + b * s.kvStride + (j * s.Hkv + hk) * s.Dh;
      if (sc > mx) {
        const float corr = mx == -INFINITY ? 0.0f : std::exp(mx - sc);
        scale_add_f(corr, acc, vr, s.Dh);
        sum = sum * corr + 1.0;
        mx = sc;
      } else {
        const float p = std::exp(sc - mx);
        axpy_f(p, vr, acc, s.Dh);
        sum += p;
      }
    }
    const long li = (b * s.Hq + h) * s.Tq + t;
    if (mx == -INFINITY) {
      std::memset(o, 0, sizeof(float) * s.Dh);
      lse[li] = -INFINITY;
      continue;
    }
    const float inv = (float)(1.0 / sum);
    for (long d = 0; d < s.Dh; d++) o[d] = acc[d] * inv;
    lse[li] = (float)(mx + std::log(sum));
  }
}

void attention(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse) {
  tasks(s.B * s.Hq, (double)s.B * s.Hq * s.Tq * s.Tk * s.Dh, [&](int task) {
    thread_local std::vector<float> acc;
    acc.resize(s.Dh);
    attention_task(s, q, k, v, out, lse, task, acc.data());
  });
}

/** One (batch row, KV head) of the backward pass (its query heads inside, so dk/dv never race);
 *  cloned per ISA so the helpers inline as vectors. */
VLM_CLONES static void attention_backward_task(const AttnShape& s, const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv, long task) {
  const long group = s.Hq / s.Hkv;
  const long b = task / s.Hkv, hk = task % s.Hkv;
  for (long h = hk * group; h < (hk + 1) * group; h++) {
    for (long t = 0; t < s.Tq; t++) {
      const long qo = ((b * s.Tq + t) * s.Hq + h) * s.Dh;
      const float l = lse[(b * s.Hq + h) * s.Tq + t];
      float* dqr = dq + qo;
      std::memset(dqr, 0, sizeof(float) * s.Dh);
      if (l == -INFINITY) continue;
      const float D = dot_f(dout + qo, out + qo, s.Dh);
      long lo, hi;
      key_range(s, b, t, lo, hi);
      for (long j = lo; j < hi; j++) {
        if (!visible(s, b, t, j)) continue;
        const long ko = b * s.kvStride + (j * s.Hkv + hk) * s.Dh;
        const float dot = dot_f(q + qo, k + ko, s.Dh);
        const float dP = dot_f(dout + qo, v + ko, s.Dh);
        const float p = std::exp(dot * s.scale - l);
        const float dS = p * (dP - D) * s.scale;
        axpy_f(dS, k + ko, dqr, s.Dh);
        axpy_f(dS, q + qo, dk + ko, s.Dh);
        axpy_f(p, dout + qo, dv + ko, s.Dh);
      }
    }
  }
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  tasks(s.B * s.Hkv, (double)s.B * s.Hq * s.Tq * s.Tk * s.Dh * 3, [&](int task) {
    attention_backward_task(s, q, k, v, out, lse, dout, dq, dk, dv, task);
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
