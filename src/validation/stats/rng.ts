/** A uniform [0, 1) generator. */
export type Rng = () => number;

/**
 * Mulberry32: a small, fast 32-bit seeded generator. Why seeded: bootstrap intervals must come out
 * the same for the same data and seed, so reports are reproducible and tests are deterministic.
 * Statistical quality is ample for resampling indices (it passes gjrand/PractRand to 2^32 outputs).
 */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A standard normal draw (Box–Muller), for building synthetic populations. */
export function normal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
