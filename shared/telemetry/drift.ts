/**
 * Drift: baseline statistics of each feature (and of the predictions) taken when a model is
 * packaged, running histograms of what a serving instance sees, and the population stability
 * index between the two. Pure, no I/O.
 */

/** Quantile bins of a numeric feature: `edges` are the inner cut points, one fraction per bin. */
export interface NumericBaseline {
  kind: 'numeric';
  edges: number[];
  fractions: number[];
  mean: number;
  min: number;
  max: number;
}

/** Frequencies of a categorical feature's values; unseen values fall into OTHER. */
export interface CategoricalBaseline {
  kind: 'categorical';
  fractions: Record<string, number>;
}

export type FeatureBaseline = NumericBaseline | CategoricalBaseline;

export interface DriftBaseline {
  rows: number;
  features: Record<string, FeatureBaseline>;
  /** Distribution of the predicted class (classifiers) or value (regressors) on the baseline rows. */
  prediction?: FeatureBaseline;
}

export const OTHER_CATEGORY = '__other__';
const QUANTILE_BINS = 10;
/** Integer columns with at most this many distinct values are read as categories (codes, counts). */
const MAX_INTEGER_CATEGORIES = 12;
/** Stands in for an empty bin: PSI divides by and takes logs of fractions. */
const EMPTY_FRACTION = 1e-4;

/** Baseline statistics of one column of values (numbers or strings). */
export function featureBaseline(values: readonly unknown[]): FeatureBaseline {
  const numbers: number[] = [];
  for (const value of values) {
    const n = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : Number.NaN;
    if (!Number.isFinite(n)) return categorical(values);
    numbers.push(n);
  }
  if (numbers.length === 0) return { kind: 'categorical', fractions: {} };
  const distinct = new Set(numbers);
  if (distinct.size <= MAX_INTEGER_CATEGORIES && numbers.every(Number.isInteger)) return categorical(numbers);
  const sorted = numbers.slice().sort((a, b) => a - b);
  const edges: number[] = [];
  for (let bin = 1; bin < QUANTILE_BINS; bin++) {
    const cut = sorted[Math.floor((bin * sorted.length) / QUANTILE_BINS)] as number;
    // Ties at a quantile collapse bins rather than leave empty ones.
    if (edges.length === 0 || cut > (edges[edges.length - 1] as number)) edges.push(cut);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const n of numbers) {
    const bin = binOf(edges, n);
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return {
    kind: 'numeric',
    edges,
    fractions: counts.map((c) => c / numbers.length),
    mean: numbers.reduce((a, b) => a + b, 0) / numbers.length,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
  };
}

function categorical(values: readonly unknown[]): CategoricalBaseline {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  const fractions: Record<string, number> = {};
  for (const [key, count] of counts) fractions[key] = count / values.length;
  return { kind: 'categorical', fractions };
}

/** The bin of a value: bin i holds values in [edges[i-1], edges[i]). */
export function binOf(edges: readonly number[], value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (value >= (edges[mid] as number)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Population stability index of observed counts against expected fractions (same bins). */
export function psi(expected: readonly number[], observed: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] ?? 0, EMPTY_FRACTION);
    const a = Math.max((observed[i] ?? 0) / total, EMPTY_FRACTION);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** Running counts of one feature in its baseline's bins. */
export class FeatureHistogram {
  readonly counts: number[];
  private readonly categories: string[];

  constructor(readonly baseline: FeatureBaseline) {
    this.categories = baseline.kind === 'categorical' ? Object.keys(baseline.fractions) : [];
    const bins = baseline.kind === 'numeric' ? baseline.edges.length + 1 : this.categories.length + 1;
    this.counts = new Array<number>(bins).fill(0);
  }

  add(value: unknown): void {
    if (this.baseline.kind === 'numeric') {
      const n = Number(value);
      if (Number.isFinite(n)) this.bump(binOf(this.baseline.edges, n));
      return;
    }
    const index = this.categories.indexOf(String(value));
    this.bump(index === -1 ? this.categories.length : index);
  }

  private bump(bin: number): void {
    this.counts[bin] = (this.counts[bin] ?? 0) + 1;
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  psi(): number {
    const expected =
      this.baseline.kind === 'numeric'
        ? this.baseline.fractions
        : [...this.categories.map((c) => (this.baseline as CategoricalBaseline).fractions[c] ?? 0), 0];
    return psi(expected, this.counts);
  }

  reset(): void {
    this.counts.fill(0);
  }
}

export interface DriftSnapshot {
  rows: number;
  psi: Record<string, number>;
  predictionPsi?: number;
}

/** One variant's running histograms of every baseline feature and of its predictions. */
export class DriftTracker {
  private readonly features = new Map<string, FeatureHistogram>();
  private readonly prediction: FeatureHistogram | undefined;
  rows = 0;

  constructor(readonly baseline: DriftBaseline) {
    for (const [name, stats] of Object.entries(baseline.features)) {
      this.features.set(name, new FeatureHistogram(stats));
    }
    this.prediction =
      baseline.prediction === undefined ? undefined : new FeatureHistogram(baseline.prediction);
  }

  /** `column(name)` gives that feature's values in this request (undefined: not in the request). */
  observe(rows: number, column: (name: string) => ArrayLike<unknown> | undefined, predictions?: unknown[]) {
    this.rows += rows;
    for (const [name, histogram] of this.features) {
      const values = column(name);
      if (values === undefined) continue;
      for (let i = 0; i < values.length; i++) histogram.add(values[i]);
    }
    if (this.prediction !== undefined && predictions !== undefined) {
      for (const value of predictions) this.prediction.add(value);
    }
  }

  /** PSI of everything observed since the last snapshot; starts a new window. */
  snapshot(): DriftSnapshot {
    const result: DriftSnapshot = { rows: this.rows, psi: {} };
    for (const [name, histogram] of this.features) {
      if (histogram.total > 0) result.psi[name] = round(histogram.psi());
      histogram.reset();
    }
    if (this.prediction !== undefined && this.prediction.total > 0) {
      result.predictionPsi = round(this.prediction.psi());
      this.prediction.reset();
    }
    this.rows = 0;
    return result;
  }
}

/** Features whose PSI is at or above the threshold, most drifted first. */
export function driftedFeatures(psiByFeature: Record<string, number>, threshold: number): string[] {
  return Object.entries(psiByFeature)
    .filter(([, value]) => value >= threshold)
    .sort((a, b) => b[1] - a[1])
    .map(([name]) => name);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
