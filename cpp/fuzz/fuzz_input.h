// Shared by the libFuzzer harnesses (cpp/fuzz/fuzz_*.cc) and the seed generator (make_corpus.cc): a reader
// that turns the fuzzer's bytes into sizes, flags and values (zeros once the bytes run out, so every input
// decodes to something), and the matching writer the generator uses to build seeds that decode exactly.
//
// Float encoding (number()): one byte b
//   b < 16    one of kSpecialFloats (0, -0, 1, -1, NaN, +Inf, -Inf, FLT_MIN, the smallest subnormal, +-FLT_MAX,
//             1e-5, 0.5, 1e-30, 1e30, 0.1)
//   b == 255  the next 4 bytes are the float's bits
//   otherwise (b - 136) / 4: -30 .. 29.5 in quarter steps (ties for rounding, small integers)
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace edgeinfer::fuzz {

inline constexpr float kSpecialFloats[16] = {
    0.0f, -0.0f, 1.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY, FLT_MIN,
    std::numeric_limits<float>::denorm_min(), FLT_MAX, -FLT_MAX, 1e-5f, 0.5f, 1e-30f, 1e30f, 0.1f};

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32); }
  bool bit() { return (u8() & 1) != 0; }

  float raw_float() {
    const uint32_t bits = u32();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }

  float number() {
    const uint8_t b = u8();
    if (b < 16) return kSpecialFloats[b];
    if (b == 255) return raw_float();
    return static_cast<float>(static_cast<int>(b) - 136) * 0.25f;
  }

  // Copies n bytes of the input into dst (zeros after the end).
  void fill(void* dst, size_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    const size_t take = n < remaining() ? n : remaining();
    if (take > 0) std::memcpy(out, data_ + pos_, take);
    if (n > take) std::memset(out + take, 0, n - take);
    pos_ += take;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The writer (seed generator only): the inverse of FuzzInput for the values it encodes.
class FuzzOutput {
 public:
  std::vector<uint8_t> bytes;

  void u8(uint64_t v) { bytes.push_back(static_cast<uint8_t>(v)); }
  void u16(uint64_t v) { u8(v), u8(v >> 8); }
  void u32(uint64_t v) { u16(v), u16(v >> 16); }
  void u64(uint64_t v) { u32(v), u32(v >> 32); }
  void raw_float(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    u32(bits);
  }
  void number(float f) {
    for (int i = 0; i < 16; ++i)
      if (std::memcmp(&kSpecialFloats[i], &f, sizeof f) == 0 || (std::isnan(f) && i == 4)) return u8(i);
    const float q = f * 4.0f;
    if (q == std::nearbyint(q) && q >= 16.0f - 136.0f && q <= 254.0f - 136.0f) return u8(static_cast<int>(q) + 136);
    u8(255);
    raw_float(f);
  }
  void append(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
  }
};

}  // namespace edgeinfer::fuzz
