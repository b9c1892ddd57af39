// N-API bindings: each export takes typed arrays and numbers in the order of the TypeScript wrapper
// (src/tensor/backends/native.ts), which checks every size before calling in.
#include <napi.h>

#include <cstdlib>
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "pool.h"

using namespace vlm2vla;

namespace {
template <typename T>
T* ptr(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
inline long L(const Napi::CallbackInfo& info, int i) { return (long)info[i].As<Napi::Number>().Int64Value(); }
inline float F(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().FloatValue(); }
inline bool B(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Boolean>().Value(); }

// gemm(transA, transB, M, N, K, alpha, beta, A, lda, offA, strideA, B, ldb, offB, strideB, bf16, C, ldc, offC, strideC, batch)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const bool ta = B(info, 0), tb = B(info, 1);
  const int M = (int)L(info, 2), N = (int)L(info, 3), K = (int)L(info, 4);
  const float alpha = F(info, 5), beta = F(info, 6);
  const float* A = ptr<float>(info[7]);
  const long lda = L(info, 8), offA = L(info, 9), strideA = L(info, 10);
  const bool bf16 = B(info, 15);
  const uint8_t* Bp = ptr<uint8_t>(info[11]);
  const long ldb = L(info, 12), offB = L(info, 13), strideB = L(info, 14);
  float* C = ptr<float>(info[16]);
  const long ldc = L(info, 17), offC = L(info, 18), strideC = L(info, 19);
  const long batch = L(info, 20);
  const long esize = bf16 ? 2 : 4;
  for (long b = 0; b < batch; b++) {
    GemmProblem p;
    p.M = M;
    p.N = N;
    p.K = K;
    p.alpha = alpha;
    p.beta = beta;
    p.A = A + offA + b * strideA;
    p.rsA = ta ? 1 : lda;
    p.csA = ta ? lda : 1;
    p.B = Bp + (offB + b * strideB) * esize;
    p.bBf16 = bf16;
    p.rsB = tb ? 1 : ldb;
    p.csB = tb ? ldb : 1;
    p.C = C + offC + b * strideC;
    p.ldc = ldc;
    gemm(p);
  }
  return info.Env().Undefined();
}

#define U(name) Napi::Value name(const Napi::CallbackInfo& info)
U(Softmax) { softmax(ptr<float>(info[0]), ptr<float>(info[1]), L(info, 2), L(info, 3)); return info.Env().Undefined(); }
U(SoftmaxBackward) { softmax_backward(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), L(info, 3), L(info, 4)); return info.Env().Undefined(); }
U(LayerNorm) { layer_norm(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), ptr<float>(info[4]), ptr<float>(info[5]), L(info, 6), L(info, 7), F(info, 8)); return info.Env().Undefined(); }
U(LayerNormBackward) { layer_norm_backward(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), ptr<float>(info[4]), ptr<float>(info[5]), ptr<float>(info[6]), ptr<float>(info[7]), L(info, 8), L(info, 9)); return info.Env().Undefined(); }
U(RmsNorm) { rms_norm(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), L(info, 4), L(info, 5), F(info, 6), B(info, 7)); return info.Env().Undefined(); }
U(RmsNormBackward) { rms_norm_backward(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), ptr<float>(info[4]), ptr<float>(info[5]), L(info, 6), L(info, 7), B(info, 8)); return info.Env().Undefined(); }
U(Gelu) { gelu(ptr<float>(info[0]), ptr<float>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(GeluBackward) { gelu_backward(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), L(info, 3)); return info.Env().Undefined(); }
U(Silu) { silu(ptr<float>(info[0]), ptr<float>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(SiluBackward) { silu_backward(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), L(info, 3)); return info.Env().Undefined(); }
U(GatedAct) { gated_act(B(info, 0), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), L(info, 4)); return info.Env().Undefined(); }
U(GatedActBackward) { gated_act_backward(B(info, 0), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), ptr<float>(info[4]), ptr<float>(info[5]), L(info, 6)); return info.Env().Undefined(); }
U(Rope) { rope(ptr<float>(info[0]), ptr<int32_t>(info[1]), ptr<float>(info[2]), L(info, 3), L(info, 4), L(info, 5), B(info, 6)); return info.Env().Undefined(); }
U(Embedding) { embedding(ptr<float>(info[0]), ptr<int32_t>(info[1]), ptr<float>(info[2]), L(info, 3), L(info, 4)); return info.Env().Undefined(); }
U(EmbeddingBackward) { embedding_backward(ptr<float>(info[0]), ptr<int32_t>(info[1]), ptr<float>(info[2]), L(info, 3), L(info, 4)); return info.Env().Undefined(); }
U(CrossEntropy) { return Napi::Number::New(info.Env(), (double)cross_entropy(ptr<float>(info[0]), ptr<int32_t>(info[1]), L(info, 2), ptr<float>(info[3]), ptr<float>(info[4]), L(info, 5), L(info, 6))); }
U(CrossEntropyBackward) { cross_entropy_backward(ptr<float>(info[0]), ptr<int32_t>(info[1]), L(info, 2), ptr<float>(info[3]), F(info, 4), ptr<float>(info[5]), L(info, 6), L(info, 7)); return info.Env().Undefined(); }

AttnShape shape(const Napi::CallbackInfo& info) {
  // [B, Tq, Tk, Hq, Hkv, Dh, qOffset, kvStride, scale, causal, window, blocks, kvStart, kvLen]
  AttnShape s;
  s.B = L(info, 0); s.Tq = L(info, 1); s.Tk = L(info, 2); s.Hq = L(info, 3); s.Hkv = L(info, 4); s.Dh = L(info, 5);
  s.qOffset = L(info, 6); s.kvStride = L(info, 7); s.scale = F(info, 8); s.causal = B(info, 9); s.window = L(info, 10);
  s.blocks = ptr<int32_t>(info[11]); s.kvStart = ptr<int32_t>(info[12]); s.kvLen = ptr<int32_t>(info[13]);
  return s;
}
U(Attention) { attention(shape(info), ptr<float>(info[14]), ptr<float>(info[15]), ptr<float>(info[16]), ptr<float>(info[17]), ptr<float>(info[18])); return info.Env().Undefined(); }
U(AttentionBackward) {
  attention_backward(shape(info), ptr<float>(info[14]), ptr<float>(info[15]), ptr<float>(info[16]), ptr<float>(info[17]), ptr<float>(info[18]), ptr<float>(info[19]), ptr<float>(info[20]), ptr<float>(info[21]), ptr<float>(info[22]));
  return info.Env().Undefined();
}
U(AdamW) { adamw(ptr<float>(info[0]), ptr<float>(info[1]), ptr<float>(info[2]), ptr<float>(info[3]), L(info, 4), F(info, 5), F(info, 6), F(info, 7), F(info, 8), F(info, 9), L(info, 10)); return info.Env().Undefined(); }
U(SumSquares) { return Napi::Number::New(info.Env(), sum_squares(ptr<float>(info[0]), L(info, 1))); }
U(Scale) { scale(ptr<float>(info[0]), F(info, 1), L(info, 2)); return info.Env().Undefined(); }
U(Axpy) { axpy(F(info, 0), ptr<float>(info[1]), ptr<float>(info[2]), L(info, 3)); return info.Env().Undefined(); }
U(F32ToBf16) { f32_to_bf16(ptr<float>(info[0]), ptr<uint16_t>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(Bf16ToF32) { bf16_to_f32(ptr<uint16_t>(info[0]), ptr<float>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(F32ToF16) { f32_to_f16(ptr<float>(info[0]), ptr<uint16_t>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(F16ToF32) { f16_to_f32(ptr<uint16_t>(info[0]), ptr<float>(info[1]), L(info, 2)); return info.Env().Undefined(); }
U(Info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", gemm_isa());
  o.Set("threads", pool_threads());
  return o;
}
// fmaPeak(threads?): a register-only AVX-512 FMA loop run at once on `threads` threads (default: the pool's
// count), each pinned to a core of its own: { total, perThread, cpus } in GFLOP/s (total 0 without AVX-512).
U(FmaPeak) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const int t = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : pool_threads();
  if (!__builtin_cpu_supports("avx512f") || t < 1) {
    o.Set("total", 0.0);
    o.Set("perThread", Napi::Array::New(env));
    o.Set("cpus", Napi::Array::New(env));
    return o;
  }
  const PinnedRun r = run_pinned(t, [] { return fma_peak_avx512(20000000); });
  double sum = 0;
  Napi::Array per = Napi::Array::New(env, t), cpus = Napi::Array::New(env, t);
  for (int i = 0; i < t; i++) {
    sum += r.values[i];
    per.Set(i, r.values[i]);
    cpus.Set(i, r.cpus[i]);
  }
  o.Set("total", sum);
  o.Set("perThread", per);
  o.Set("cpus", cpus);
  return o;
}
U(SetIsa) { return Napi::Boolean::New(info.Env(), set_isa(info[0].As<Napi::String>().Utf8Value().c_str())); }
#undef U

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* t = std::getenv("VLM2VLA_THREADS");
  pool_init(t ? std::atoi(t) : 0);
#define E(js, fn) exports.Set(js, Napi::Function::New(env, fn))
  E("gemm", Gemm); E("softmax", Softmax); E("softmaxBackward", SoftmaxBackward);
  E("layerNorm", LayerNorm); E("layerNormBackward", LayerNormBackward);
  E("rmsNorm", RmsNorm); E("rmsNormBackward", RmsNormBackward);
  E("gelu", Gelu); E("geluBackward", GeluBackward); E("silu", Silu); E("siluBackward", SiluBackward);
  E("gatedAct", GatedAct); E("gatedActBackward", GatedActBackward); E("rope", Rope);
  E("embedding", Embedding); E("embeddingBackward", EmbeddingBackward);
  E("crossEntropy", CrossEntropy); E("crossEntropyBackward", CrossEntropyBackward);
  E("attention", Attention); E("attentionBackward", AttentionBackward);
  E("adamw", AdamW); E("sumSquares", SumSquares); E("scale", Scale); E("axpy", Axpy);
  E("f32ToBf16", F32ToBf16); E("bf16ToF32", Bf16ToF32); E("f32ToF16", F32ToF16); E("f16ToF32", F16ToF32);
  E("info", Info); E("setIsa", SetIsa); E("fmaPeak", FmaPeak);
#undef E
  return exports;
}
}  // namespace

NODE_API_MODULE(vlm2vla_native, Init)
