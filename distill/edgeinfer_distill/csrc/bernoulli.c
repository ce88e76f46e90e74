/* PyTorch's CPU Bernoulli draw, the same numbers faster: the dropout masks of the factory's transformers.
 *
 * Why: on a CPU that is not Intel's, `tensor.bernoulli_(p)` takes PyTorch's serial path: one element at a time,
 * each from a fresh uniform double (two 32-bit words of the generator's MT19937), measured at ~5 ns an element,
 * over a quarter of a teacher step. This file produces the identical mask from the identical generator state,
 * a block of 624 words at a time, and leaves the generator where PyTorch would have left it, so a run that uses
 * it is bit for bit the run that does not (fast_dropout.py checks that at first use and falls back if not).
 *
 * The generator: ATen's at::mt19937 (ATen/core/MT19937RNGEngine.h), standard MT19937, whose draw is
 *   if (--left == 0) regenerate (left = 624, next = 0);  y = state[next++];  temper(y)
 * A Bernoulli element (at::bernoulli_distribution<double>, transformation::uniform_real) is
 *   hi = draw(), lo = draw();  u = ((hi:lo as 64 bits) & (2^53 - 1)) * 2^-53;  element = u < p
 * u is an exact multiple of 2^-53, so u < p  <=>  (the 53-bit integer) < ceil(p * 2^53), an integer compare. */
#include <math.h>
#include <stdint.h>

#define MT_N 624
#define MT_M 397
#define MATRIX_A 0x9908b0dfu
#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu
#define CHUNK 2048 /* elements per pass: 2 words each, a 16 KB scratch on the stack */

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
/* Runtime dispatch (ifunc): AVX2 where the CPU has it, the baseline elsewhere; never -march=native. */
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

static inline uint32_t twist(uint32_t u, uint32_t v) {
  uint32_t y = (u & UPPER_MASK) | (v & LOWER_MASK);
  return (y >> 1) ^ ((v & 1u) ? MATRIX_A : 0u);
}

VECTOR_CLONES
static void regenerate(uint32_t *s) {
  int i;
  for (i = 0; i < MT_N - MT_M; i++) s[i] = s[i + MT_M] ^ twist(s[i], s[i + 1]);
  for (; i < MT_N - 1; i++) s[i] = s[i + MT_M - MT_N] ^ twist(s[i], s[i + 1]);
  s[MT_N - 1] = s[MT_M - 1] ^ twist(s[MT_N - 1], s[0]);
}

VECTOR_CLONES
static void temper_into(uint32_t *out, const uint32_t *s, int count) {
  for (int i = 0; i < count; i++) {
    uint32_t y = s[i];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    out[i] = y;
  }
}

/* `count` tempered draws into out, advancing (state, left, next) exactly as `count` calls of at::mt19937 do. */
static void draw_words(uint32_t *state, int32_t *left, uint32_t *next, uint32_t *out, int64_t count) {
  while (count > 0) {
    if (*left <= 1) { /* the next draw regenerates */
      regenerate(state);
      *left = MT_N + 1;
      *next = 0;
    }
    int64_t run = *left - 1; /* draws before the next regeneration */
    if (run > count) run = count;
    temper_into(out, state + *next, (int)run);
    out += run;
    *next += (uint32_t)run;
    *left -= (int32_t)run;
    count -= run;
  }
}

VECTOR_CLONES
static void threshold_pairs(float *out, const uint32_t *words, int64_t count, uint64_t below) {
  for (int64_t i = 0; i < count; i++) {
    uint64_t bits = ((uint64_t)(words[2 * i] & 0x1fffffu) << 32) | words[2 * i + 1];
    out[i] = bits < below ? 1.0f : 0.0f;
  }
}

/* out[0 .. n) = 1.0f with probability p, else 0.0f, as PyTorch's CPU `bernoulli_(p)` on a contiguous float tensor
 * fills it from a generator in state (state, left, next); the state is advanced in place. Returns 0, or -1 for a p
 * outside [0, 1] or a state that is not a valid position. */
int edgeinfer_bernoulli_fill(uint32_t *state, int32_t *left, uint32_t *next, float *out, int64_t n, double p) {
  if (!(p >= 0.0 && p <= 1.0) || *left < 1 || *next > MT_N || (uint32_t)(*left - 1) > MT_N - *next) return -1;
  /* u < p for u = k * 2^-53 (k an integer below 2^53)  <=>  k < ceil(p * 2^53); p * 2^53 is exact in a double. */
  uint64_t below = (uint64_t)ceil(ldexp(p, 53));
  uint32_t words[2 * CHUNK];
  for (int64_t done = 0; done < n; done += CHUNK) {
    int64_t count = n - done < CHUNK ? n - done : CHUNK;
    draw_words(state, left, next, words, 2 * count);
    threshold_pairs(out + done, words, count, below);
  }
  return 0;
}
