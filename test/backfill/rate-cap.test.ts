import { describe, expect, it } from 'vitest';
import { backfillRateCap } from '../../src/backfill/rate-cap.js';

describe('backfillRateCap', () => {
  it('When run with the defaults (--rate 10, EHR_RATE_LIMIT 20), Then it says 10/s by --rate, then the EHR limit, and how to lift both', () => {
    const cap = backfillRateCap(10, 20);
    expect(cap.perSecond).toBe(10);
    expect(cap.message).toMatch(/at most 10 patients\/s, capped by --rate 10; then EHR_RATE_LIMIT=20/);
    expect(cap.message).toMatch(/raise --rate \(0 = unpaced\) and the workers' EHR_RATE_LIMIT \(0 = unlimited\)/);
  });

  it('When the EHR limit is the tighter one, Then it names EHR_RATE_LIMIT first', () => {
    expect(backfillRateCap(0, 5)).toMatchObject({
      perSecond: 5,
      message: expect.stringMatching(/capped by EHR_RATE_LIMIT=5/),
    });
    expect(backfillRateCap(50, 5).message).toMatch(/capped by EHR_RATE_LIMIT=5 .*; then --rate 50/);
  });

  it('When both are 0, Then nothing caps it and it says so', () => {
    expect(backfillRateCap(0, 0)).toEqual({ message: expect.stringMatching(/not capped/) });
  });
});
