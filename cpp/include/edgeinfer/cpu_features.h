// What the CPU (and the OS, for register state) supports, detected once.
#pragma once

#include <string>

namespace edgeinfer {

struct CpuFeatures {
  // x86-64
  bool sse41 = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  // arm64
  bool neon = false;
  bool dotprod = false;
  bool i8mm = false;
  bool fp16 = false;
};

// Detected on first call (cpuid + XGETBV on x86-64, getauxval on arm64); cached afterwards.
const CpuFeatures& cpu_features();

// Names of the features that are present, e.g. "avx2 fma avx512f ...".
std::string cpu_feature_names(const CpuFeatures& features);

}  // namespace edgeinfer
