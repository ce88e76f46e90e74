// Single-thread microbenchmark of the entropy calibration's KL search (calib::kl_divergences) on 2048-bin
// |x| histograms, 128 levels: median microseconds per call over many samples (the machine may be shared).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench_timing.h"
#include "edgeinfer/calib/threshold.h"

using namespace edgeinfer;

namespace {

using bench::median;
using bench::now_us;

volatile double g_sink;  // keeps the calls from being optimised away

void measure(const char* what, const std::vector<double>& hist) {
  std::vector<double> samples;
  for (int s = 0; s < 201; ++s) {
    const double t0 = now_us();
    const std::vector<double> kl = calib::kl_divergences(hist.data(), hist.size(), 128);
    samples.push_back(now_us() - t0);
    g_sink = kl.back();
  }
  std::printf("%-44s %9.1f us/call (median of %zu)\n", what, median(samples), samples.size());
}

}  // namespace

int main() {
  constexpr size_t kBins = 2048;
  // Dense bell: every bin non-zero, counts up to 1e6.
  std::vector<double> dense(kBins);
  for (size_t k = 0; k < kBins; ++k) dense[k] = std::floor(1e6 * std::exp(-0.5 * std::pow(k / 512.0, 2))) + 1.0;
  measure("dense bell, 2048 bins", dense);
  // |x| of 1M standard normal samples binned up to max |x|: dense bulk, sparse tail of 0s and 1s.
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> values(1000000);
  double max_abs = 0.0;
  for (double& v : values) max_abs = std::max(max_abs, v = std::fabs(normal(rng)));
  std::vector<double> gaussian(kBins, 0.0);
  for (double v : values) gaussian[std::min(kBins - 1, static_cast<size_t>(v / max_abs * kBins))] += 1.0;
  measure("|normal| 1M samples, 2048 bins", gaussian);
  return 0;
}
