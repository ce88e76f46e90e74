/** Plain-JS definitions of the kernels, in double precision where it matters: what the native code must match. */

export function gemmReference(
  a: ArrayLike<number>,
  weights: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  options: { lda?: number; aZeroPoint?: number; layout?: 'kn' | 'nk' } = {},
): Int32Array {
  const lda = options.lda ?? k;
  const zp = options.aZeroPoint ?? 0;
  const nk = options.layout === 'nk';
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += (a[i * lda + p] - zp) * weights[nk ? j * k + p : p * n + j];
      c[i * n + j] = acc;
    }
  }
  return c;
}

export function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6 checks; use a series / continued fraction in double.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const value = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -value : value;
  }
  // erfc continued fraction for large |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function geluReference(x: number, tanh = false): number {
  if (tanh) return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function layerNormReference(
  x: Float32Array,
  width: number,
  gamma?: Float32Array,
  beta?: Float32Array,
  epsilon = 1e-5,
  activation: 'none' | 'gelu' | 'gelu_tanh' = 'none',
): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += x[r * width + i];
    mean /= width;
    let variance = 0;
    for (let i = 0; i < width; i++) variance += (x[r * width + i] - mean) ** 2;
    variance /= width;
    const inv = 1 / Math.sqrt(variance + Math.fround(epsilon));
    for (let i = 0; i < width; i++) {
      let v = (x[r * width + i] - mean) * inv * (gamma ? gamma[i] : 1) + (beta ? beta[i] : 0);
      if (activation !== 'none') v = geluReference(v, activation === 'gelu_tanh');
      y[r * width + i] = v;
    }
  }
  return y;
}

/** ONNX QuantizeLinear for one value: round half to even, saturate; NaN gives the zero point. */
export function quantizeReference(x: number, scale: number, zeroPoint: number, signed: boolean): number {
  const [lo, hi] = signed ? [-128, 127] : [0, 255];
  if (Number.isNaN(x)) return zeroPoint;
  const scaled = Math.fround(Math.fround(x) / Math.fround(scale));
  let rounded = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5) rounded = 2 * Math.round(scaled / 2); // ties to even
  return Math.min(hi, Math.max(lo, rounded + zeroPoint));
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
