// Row-wise and elementwise kernels (fp32; float64 accumulation where sums are long), attention with
// online softmax, AdamW and conversions. Semantics match src/tensor/backend.ts exactly.
#pragma once
#include <cstdint>

namespace vlm2vla {
void softmax(const float* x, float* y, long rows, long cols);
void softmax_backward(const float* y, const float* dy, float* dx, long rows, long cols);
void layer_norm(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, long rows, long cols, float eps);
void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy, float* dx, float* dw, float* db, long rows, long cols);
void rms_norm(const float* x, const float* w, float* y, float* rstd, long rows, long cols, float eps, bool add_one);
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw, long rows, long cols, bool add_one);
void gelu(const float* x, float* y, long n);
void gelu_backward(const float* x, const float* dy, float* dx, long n);
void silu(const float* x, float* y, long n);
void silu_backward(const float* x, const float* dy, float* dx, long n);
void gated_act(bool geglu, const float* gate, const float* up, float* y, long n);
void gated_act_backward(bool geglu, const float* gate, const float* up, const float* dy, float* dgate, float* dup, long n);
void rope(float* x, const int32_t* pos, const float* inv_freq, long N, long H, long Dh, bool inverse);
void embedding(const float* table, const int32_t* ids, float* out, long N, long D);
void embedding_backward(const float* dout, const int32_t* ids, float* dtable, long N, long D);
long cross_entropy(const float* logits, const int32_t* targets, long ignore, float* losses, float* lse, long N, long V);
void cross_entropy_backward(const float* logits, const int32_t* targets, long ignore, const float* lse, float scale, float* dlogits, long N, long V);

struct AttnShape {
  long B, Tq, Tk, Hq, Hkv, Dh, qOffset, kvStride;
  float scale;
  bool causal;
  long window;
  const int32_t* blocks;
  const int32_t* kvStart;
  const int32_t* kvLen;
};
void attention(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse);
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv);

void adamw(float* p, const float* g, float* m, float* v, long n, float lr, float b1, float b2, float eps, float wd, long step);
double sum_squares(const float* x, long n);
void scale(float* x, float f, long n);
void axpy(float a, const float* x, float* y, long n);
void f32_to_bf16(const float* src, uint16_t* dst, long n);
void bf16_to_f32(const uint16_t* src, float* dst, long n);
void f32_to_f16(const float* src, uint16_t* dst, long n);
void f16_to_f32(const uint16_t* src, float* dst, long n);
}  // namespace vlm2vla
