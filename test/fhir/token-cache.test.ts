import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/fhir/auth/token-cache.js';
import { Semaphore } from '../../src/fhir/semaphore.js';

describe('TokenCache', () => {
  it('reuses a token until shortly before expiry, shares one request between concurrent callers, and refreshes after invalidate', async () => {
    let now = 0;
    let issued = 0;
    const cache = new TokenCache(
      async () => ({ accessToken: `t${++issued}`, expiresInS: 300 }),
      () => now,
    );
    expect(await Promise.all([cache.get(), cache.get(), cache.get()])).toEqual(['t1', 't1', 't1']);
    now = 239_000; // 300 s lifetime, refreshed 60 s early
    expect(await cache.get()).toBe('t1');
    now = 240_000;
    expect(await cache.get()).toBe('t2');
    cache.invalidate();
    expect(await cache.get()).toBe('t3');
    expect(issued).toBe(3);
  });

  it('does not keep a failed token request: the next call asks again', async () => {
    let calls = 0;
    const cache = new TokenCache(async () => {
      calls++;
      if (calls === 1) throw new Error('token endpoint down');
      return { accessToken: 'ok', expiresInS: 60 };
    });
    await expect(cache.get()).rejects.toThrow('token endpoint down');
    expect(await cache.get()).toBe('ok');
  });
});

describe('Semaphore', () => {
  it('never lets more than its limit run at once, and runs everything', async () => {
    const s = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const runs = Array.from({ length: 10 }, (_, i) =>
      s.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((resolve) => gates.push(resolve));
        active--;
        return i;
      }),
    );
    while (gates.length || s.inUse) {
      await Promise.resolve();
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(peak).toBe(3);
  });
});
