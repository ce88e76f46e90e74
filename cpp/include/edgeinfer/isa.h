// Instruction-set levels a kernel variant can be written for, ordered within each architecture.
#pragma once

#include <optional>
#include <string_view>

namespace edgeinfer {

enum class Isa {
  kRef,         // portable C++: the definition of correct
  kAvx2,        // x86-64 AVX2 + FMA
  kAvxVnni,     // AVX2 + AVX-VNNI (vpdpbusd on ymm)
  kAvx512,      // AVX-512 F/BW/VL/DQ
  kAvx512Vnni,  // AVX-512 F/BW/VL/DQ + VNNI
  kNeon,        // armv8.0-a Advanced SIMD
  kNeonDot,     // armv8.2-a dot product (sdot/udot)
  kI8mm,        // armv8.6-a int8 matrix multiply (smmla/usmmla)
};

const char* isa_name(Isa isa);
std::optional<Isa> isa_from_name(std::string_view name);

// True when the running CPU can execute code of that level.
bool isa_supported(Isa isa);

// Rank for "at most this level" comparisons inside one architecture (ref is below everything).
int isa_rank(Isa isa);

}  // namespace edgeinfer
