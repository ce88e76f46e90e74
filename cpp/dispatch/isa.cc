// ISA names, ranks and the support check used by the kernel table.
#include "edgeinfer/isa.h"

#include "edgeinfer/cpu_features.h"

namespace edgeinfer {

namespace {
struct IsaInfo {
  Isa isa;
  const char* name;
  int rank;
};
constexpr IsaInfo kIsas[] = {
    {Isa::kRef, "ref", 0},         {Isa::kAvx2, "avx2", 1},   {Isa::kAvxVnni, "avxvnni", 2},
    {Isa::kAvx512, "avx512", 3},   {Isa::kAvx512Vnni, "avx512vnni", 4},
    {Isa::kNeon, "neon", 1},       {Isa::kNeonDot, "neondot", 2}, {Isa::kI8mm, "i8mm", 3},
};
}  // namespace

const char* isa_name(Isa isa) {
  for (const auto& info : kIsas)
    if (info.isa == isa) return info.name;
  return "unknown";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (const auto& info : kIsas)
    if (name == info.name) return info.isa;
  return std::nullopt;
}

int isa_rank(Isa isa) {
  for (const auto& info : kIsas)
    if (info.isa == isa) return info.rank;
  return 0;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kRef: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvxVnni: return avx2 && f.avxvnni;
    case Isa::kAvx512: return avx512;
    case Isa::kAvx512Vnni: return avx512 && f.avx512vnni;
    case Isa::kNeon: return f.neon;
    case Isa::kNeonDot: return f.neon && f.dotprod;
    case Isa::kI8mm: return f.neon && f.dotprod && f.i8mm;
  }
  return false;
}

}  // namespace edgeinfer
