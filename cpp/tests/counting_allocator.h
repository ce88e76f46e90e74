// Replaces the global operator new/delete of a test executable with versions that count allocations, so a
// test can prove that a hot path allocates nothing. Include from exactly one file per test executable.
// Under AddressSanitizer (npm run test:sanitizers) the replacement stays: its malloc / free are ASan's, so
// overflows, use-after-free and leaks are still caught (only new/delete mismatches are not). Counting with
// ASan's allocator hook instead would also count the sanitizer's own allocations when a pool thread starts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace edgeinfer::testing {
inline std::atomic<long>& heap_allocations() {
  static std::atomic<long> count{0};
  return count;
}
}  // namespace edgeinfer::testing

void* operator new(std::size_t size) {
  edgeinfer::testing::heap_allocations().fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  edgeinfer::testing::heap_allocations().fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(std::size_t size, std::align_val_t align) {
  edgeinfer::testing::heap_allocations().fetch_add(1, std::memory_order_relaxed);
  const std::size_t a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) { return operator new(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
