{
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-O2"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math"],
    "cflags!": ["-O2"]
  },
  "targets": [
    {
      "target_name": "gemm_avx512",
      "type": "static_library",
      "sources": ["native/gemm_avx512.cc"],
      "cflags_cc": ["-mavx512f", "-mavx512vl", "-mfma", "-fPIC"],
      "conditions": [["target_arch!='x64'", {"sources!": ["native/gemm_avx512.cc"]}]]
    },
    {
      "target_name": "gemm_avx2",
      "type": "static_library",
      "sources": ["native/gemm_avx2.cc"],
      "cflags_cc": ["-mavx2", "-mfma", "-fPIC"]
    },
    {
      "target_name": "vlm2vla_native",
      "sources": ["native/addon.cc", "native/pool.cc", "native/gemm.cc", "native/kernels.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "dependencies": ["gemm_avx512", "gemm_avx2"],
      "cflags_cc": ["-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
