/** HDR histograms (hdr-histogram-js, 3 significant digits) and the summary the schedulers report. */
import * as hdr from 'hdr-histogram-js';

export type LatencyHistogram = hdr.Histogram;

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Values from 1 to 1e10 (µs: up to ~3 hours) at 0.1 % precision; smaller values are recorded as 1. 32-bit
 * buckets (~150 KB each) rather than the packed form: recording sits on every request's path, and the
 * packed array's index search cost a scheduler ~7 % of its time.
 */
export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e10, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });
}

export function summarize(histogram: LatencyHistogram): LatencySummary {
  if (histogram.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  return {
    count: histogram.totalCount,
    mean: histogram.mean,
    p50: histogram.getValueAtPercentile(50),
    p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99),
    max: histogram.maxValue,
  };
}
