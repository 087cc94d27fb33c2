import { describe, expect, it } from 'vitest';
import { bootstrapIntervals } from '../../src/validation/stats/bootstrap.js';
import { brierScore } from '../../src/validation/stats/brier.js';
import {
  calibrationInTheLarge,
  calibrationSlope,
  observedExpected,
  observedRisk,
} from '../../src/validation/stats/calibration.js';
import { concordance } from '../../src/validation/stats/concordance.js';
import { ipcwOutcomes } from '../../src/validation/stats/ipcw.js';
import { INTERVAL_METRICS, pointMetrics } from '../../src/validation/stats/metrics.js';
import { byCategory, byDecile } from '../../src/validation/stats/risk-groups.js';
import { normal, type Rng, seededRng } from '../../src/validation/stats/rng.js';
import type { Subject } from '../../src/validation/stats/subject.js';

const HORIZON = 10;
const expit = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A synthetic population whose true risk by the horizon is `p` for each subject: exponential event
 * times with hazard −ln(1 − p)/horizon, so P(T ≤ horizon) = p exactly. With `censorUpTo`, independent
 * uniform censoring on (0, censorUpTo) years. `predict` maps the true risk to what the "model" says.
 */
function population(n: number, rng: Rng, predict: (p: number, rng: Rng) => number, censorUpTo?: number): Subject[] {
  const out: Subject[] = [];
  for (let i = 0; i < n; i++) {
    const p = expit(-2.2 + 0.9 * normal(rng));
    const hazard = -Math.log(1 - p) / HORIZON;
    const eventTime = -Math.log(1 - rng()) / hazard;
    const censorTime = censorUpTo ? rng() * censorUpTo : Number.POSITIVE_INFINITY;
    const end = Math.min(eventTime, censorTime, HORIZON);
    out.push({ risk: predict(p, rng), time: end, event: eventTime <= Math.min(censorTime, HORIZON) });
  }
  return out;
}

const truth = (p: number) => p;

describe('validation statistics on synthetic populations with known calibration', () => {
  it('When the model predicts the true risk, Then O/E ≈ 1, calibration-in-the-large ≈ 0 and slope ≈ 1', () => {
    const s = population(20_000, seededRng(11), truth);
    const m = pointMetrics(s, HORIZON);
    expect(m.oe).toBeGreaterThan(0.95);
    expect(m.oe).toBeLessThan(1.05);
    expect(Math.abs(m.citl ?? 9)).toBeLessThan(0.05);
    expect(m.slope).toBeGreaterThan(0.92);
    expect(m.slope).toBeLessThan(1.08);
    expect(m.cUno).toBeGreaterThan(0.6); // a real, modest discrimination (true risks vary)
  });

  it('When the model doubles every risk, Then O/E ≈ 0.5 and calibration-in-the-large is negative', () => {
    const s = population(20_000, seededRng(12), (p) => Math.min(0.999, 2 * p));
    const m = pointMetrics(s, HORIZON);
    expect(m.oe).toBeGreaterThan(0.47);
    expect(m.oe).toBeLessThan(0.53);
    expect(m.citl).toBeLessThan(-0.5);
  });

  it('When the score is random noise, Then the C-statistic ≈ 0.5', () => {
    const s = population(20_000, seededRng(13), (_p, rng) => rng());
    const m = pointMetrics(s, HORIZON);
    expect(Math.abs((m.cUno ?? 0) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs((m.cHarrell ?? 0) - 0.5)).toBeLessThan(0.02);
  });

  it('When risks are too extreme (logit × 2), Then the slope ≈ 0.5', () => {
    const s = population(20_000, seededRng(14), (p) => expit(2 * Math.log(p / (1 - p)) + 2.2));
    const slope = calibrationSlope(ipcwOutcomes(s, HORIZON))?.slope ?? 0;
    expect(slope).toBeGreaterThan(0.44);
    expect(slope).toBeLessThan(0.56);
  });

  it('When follow-up is censored at random, Then the Kaplan–Meier O/E stays ≈ 1 where the naive event rate is biased', () => {
    const s = population(20_000, seededRng(15), truth, 15);
    const m = pointMetrics(s, HORIZON);
    expect(m.censored).toBeGreaterThan(5_000);
    expect(m.oe).toBeGreaterThan(0.94);
    expect(m.oe).toBeLessThan(1.06);
    expect(m.slope).toBeGreaterThan(0.9);
    expect(m.slope).toBeLessThan(1.1);
    const naive = m.events / m.n / m.expectedRisk;
    expect(naive).toBeLessThan(0.85); // counting events among everyone ignores who left early
  });
});

describe('validation statistics against a hand-computed example', () => {
  // (time y, event, risk), horizon 5. Worked by hand in the comments below.
  const five: Subject[] = [
    { time: 1, event: true, risk: 0.8 }, // A
    { time: 2, event: false, risk: 0.3 }, // B censored
    { time: 3, event: true, risk: 0.6 }, // C
    { time: 4, event: false, risk: 0.2 }, // D censored
    { time: 5, event: false, risk: 0.6 }, // E followed to the horizon
  ];

  it("Harrell's C: 6 comparable pairs (A with B–E, C with D–E), 5.5 concordant (C–E tied) = 0.9167", () => {
    expect(concordance(five, 5, 'harrell')).toBeCloseTo(5.5 / 6, 10);
  });

  it("Uno's C: censoring KM G(1−) = 1, G(3−) = 0.75; pairs of C weigh 1/0.75²: (4 + 1.5/0.5625)/(4 + 2/0.5625) = 15/17", () => {
    expect(concordance(five, 5, 'uno')).toBeCloseTo(15 / 17, 10);
  });

  it('IPCW Brier: weights A 1, C 1/0.75, E 1/G(5) = 1/0.375, B and D 0: (0.04 + 0.16·4/3 + 0.36·8/3)/5 = 0.24267', () => {
    expect(brierScore(five, 5)).toBeCloseTo((0.04 + (0.16 * 4) / 3 + (0.36 * 8) / 3) / 5, 10);
  });

  it('Kaplan–Meier observed risk 1 − (4/5)(2/3) = 0.4667 and O/E 0.4667/0.5 = 0.9333', () => {
    expect(observedRisk(five, 5).risk).toBeCloseTo(1 - (4 / 5) * (2 / 3), 10);
    expect(observedExpected(five, 5)).toBeCloseTo((1 - (4 / 5) * (2 / 3)) / 0.5, 10);
  });

  it('Without censoring the Brier score is the mean squared error and C the AUC: risks .1 .4 .7, outcomes 0 1 1', () => {
    const three: Subject[] = [
      { time: 5, event: false, risk: 0.1 },
      { time: 2, event: true, risk: 0.4 },
      { time: 2, event: true, risk: 0.7 },
    ];
    expect(brierScore(three, 5)).toBeCloseTo((0.01 + 0.36 + 0.09) / 3, 12);
    expect(concordance(three, 5, 'uno')).toBe(1);
  });

  it('When nobody has the outcome, Then the fits and C are undefined rather than invented', () => {
    const none: Subject[] = [
      { time: 5, event: false, risk: 0.1 },
      { time: 5, event: false, risk: 0.2 },
    ];
    const m = pointMetrics(none, 5);
    expect(m.cUno).toBeUndefined();
    expect(m.slope).toBeUndefined();
    expect(calibrationInTheLarge(ipcwOutcomes(none, 5))).toBeUndefined();
    expect(m.observedRisk).toBe(0);
  });
});

describe('bootstrap intervals and risk groups', () => {
  const s = population(2_000, seededRng(21), truth);
  const stats = (x: readonly Subject[]) => pointMetrics(x, HORIZON);

  it('When run twice with the same seed, Then the intervals are identical; they cover the point estimate', () => {
    const a = bootstrapIntervals(s, stats, INTERVAL_METRICS, { reps: 50, seed: 7 });
    const b = bootstrapIntervals(s, stats, INTERVAL_METRICS, { reps: 50, seed: 7 });
    expect(a).toEqual(b);
    const point = stats(s);
    expect(a.oe?.lo).toBeLessThan(point.oe ?? 0);
    expect(a.oe?.hi).toBeGreaterThan(point.oe ?? 0);
    expect(a.oe?.lo).toBeLessThan(1);
    expect(a.oe?.hi).toBeGreaterThan(1);
    const other = bootstrapIntervals(s, stats, INTERVAL_METRICS, { reps: 50, seed: 8 });
    expect(other.oe).not.toEqual(a.oe);
  });

  it('Deciles split 2,000 subjects into ten groups of 200 ordered by risk, each near the diagonal', () => {
    const groups = byDecile(s, HORIZON);
    expect(groups.map((g) => g.n)).toEqual(new Array(10).fill(200));
    for (let i = 1; i < 10; i++) expect(groups[i].predicted).toBeGreaterThan(groups[i - 1].predicted);
    const top = groups[9];
    expect(top.observedLo).toBeLessThan(top.predicted);
    expect(top.observedHi).toBeGreaterThan(top.predicted);
  });

  it('Categories group by the model label, ordered by mean predicted risk', () => {
    const labelled = s.map((x) => ({ ...x, category: x.risk < 0.075 ? 'low' : 'high' }));
    const groups = byCategory(labelled, HORIZON);
    expect(groups.map((g) => g.label)).toEqual(['low', 'high']);
    expect(groups[0].n + groups[1].n).toBe(2_000);
  });
});
