// A minimal test harness for the core: EI_TEST registers a case, EI_CHECK* record failures with the
// location and continue. Each test file is one executable; ctest runs them.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace edgeinfer::testing {

struct TestCase {
  const char* name;
  std::function<void()> body;
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> cases;
  return cases;
}

inline int& failures() {
  static int count = 0;
  return count;
}

struct Registrar {
  Registrar(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

inline void report_failure(const char* file, int line, const std::string& what) {
  if (++failures() <= 50) std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (const auto& test : registry()) {
    if (filter && std::string(test.name).find(filter) == std::string::npos) continue;
    const int before = failures();
    test.body();
    ++ran;
    std::printf("[%s] %s\n", failures() == before ? "  ok  " : " FAIL ", test.name);
  }
  std::printf("%d tests, %d failed checks\n", ran, failures());
  return failures() == 0 && ran > 0 ? 0 : 1;
}

}  // namespace edgeinfer::testing

#define EI_CONCAT_INNER(a, b) a##b
#define EI_CONCAT(a, b) EI_CONCAT_INNER(a, b)
#define EI_TEST(name)                                                                       \
  static void EI_CONCAT(ei_test_, __LINE__)();                                              \
  static ::edgeinfer::testing::Registrar EI_CONCAT(ei_registrar_, __LINE__)(name,           \
                                                                          EI_CONCAT(ei_test_, __LINE__)); \
  static void EI_CONCAT(ei_test_, __LINE__)()

#define EI_CHECK(cond)                                                                 \
  do {                                                                                 \
    if (!(cond)) ::edgeinfer::testing::report_failure(__FILE__, __LINE__, #cond);      \
  } while (0)

#define EI_CHECK_MSG(cond, msg)                                                                        \
  do {                                                                                                 \
    if (!(cond)) ::edgeinfer::testing::report_failure(__FILE__, __LINE__, std::string(#cond) + " — " + (msg)); \
  } while (0)

#define EI_CHECK_THROWS(expr)                                                        \
  do {                                                                               \
    bool ei_threw = false;                                                           \
    try {                                                                            \
      (void)(expr);                                                                  \
    } catch (...) {                                                                  \
      ei_threw = true;                                                               \
    }                                                                                \
    if (!ei_threw) ::edgeinfer::testing::report_failure(__FILE__, __LINE__, "expected a throw: " #expr); \
  } while (0)

#define EI_TEST_MAIN() \
  int main(int argc, char** argv) { return ::edgeinfer::testing::run_all(argc, argv); }
