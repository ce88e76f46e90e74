import assert from 'node:assert/strict';

import { gelu, geluSync, layerNorm, layerNormGelu, layerNormGeluSync, layerNormSync } from '../lib';
import { fillFloat, rng } from './helpers/random';
import { geluReference, layerNormReference } from './helpers/reference';

// Float32 kernels against a float64 reference: relative 1e-5 of the row's scale plus a small absolute term.
function assertClose(got: Float32Array, expected: Float64Array, tolerance: number, what: string) {
  for (let i = 0; i < got.length; i++) {
    const bound = tolerance * Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(got[i] - expected[i]) <= bound, `${what} [${i}]: ${got[i]} vs ${expected[i]}`);
  }
}

describe('layerNorm / gelu / layerNormGelu', () => {
  it('normalises rows of odd widths with and without gamma/beta', async () => {
    const next = rng(7);
    for (const width of [1, 3, 15, 16, 17, 100, 768, 1031]) {
      const rows = 1 + (width % 5);
      const x = fillFloat(new Float32Array(rows * width), next, -5, 8);
      const gamma = fillFloat(new Float32Array(width), next, 0.5, 1.5);
      const beta = fillFloat(new Float32Array(width), next, -0.5, 0.5);
      assertClose(await layerNorm(x, { width, gamma, beta }), layerNormReference(x, width, gamma, beta), 2e-5, `width ${width}`);
      assertClose(layerNormSync(x, { width }), layerNormReference(x, width), 2e-5, `plain width ${width}`);
    }
  });

  it('fuses GELU (erf and tanh forms) and matches LayerNorm followed by GELU', async () => {
    const next = rng(8);
    for (const width of [5, 64, 769]) {
      const x = fillFloat(new Float32Array(4 * width), next, -4, 4);
      const gamma = fillFloat(new Float32Array(width), next, 0.5, 2);
      const beta = fillFloat(new Float32Array(width), next, -1, 1);
      assertClose(await layerNormGelu(x, { width, gamma, beta }), layerNormReference(x, width, gamma, beta, 1e-5, 'gelu'), 2e-5, 'erf');
      assertClose(layerNormGeluSync(x, { width, gamma, beta, approximate: 'tanh' }), layerNormReference(x, width, gamma, beta, 1e-5, 'gelu_tanh'), 2e-5, 'tanh');
    }
  });

  it('computes GELU to 1e-6 relative (plus 1e-7 absolute) over a dense sweep and extremes', async () => {
    const x = new Float32Array(20001).map((_, i) => -10 + i * 0.001);
    const extremes = Float32Array.from([0, -0, 1e-30, -1e-30, 30, -30, 1e10, -1e10, 3.4e38, -3.4e38]);
    for (const approximate of ['none', 'tanh'] as const) {
      for (const input of [x, extremes]) {
        const got = approximate === 'none' ? await gelu(input) : geluSync(input, { approximate });
        input.forEach((v, i) => {
          const expected = geluReference(v, approximate === 'tanh');
          assert.ok(Math.abs(got[i] - expected) <= 1e-6 * Math.abs(expected) + 1e-7 + 1e-6 * Math.abs(v) * 1e-3, `${approximate} gelu(${v}) = ${got[i]}, expected ${expected}`);
        });
      }
    }
  });

  it('works in place (out === x)', () => {
    const x = fillFloat(new Float32Array(3 * 50), rng(9), -2, 2);
    const expected = layerNormReference(x, 50, undefined, undefined, 1e-5, 'gelu');
    layerNormGeluSync(x, { width: 50, out: x });
    assertClose(x, expected, 2e-5, 'in place');
  });
});
