import type { WriteBackResult } from './write-back.js';

/** A model version that may no longer write: its outputs stay as they are (retired) or are withdrawn (recalled). */
export type StoppedMode = 'retired' | 'recalled';
/** The modes a write-back can write in. */
export type GateMode = 'shadow' | 'preliminary' | 'final';

/**
 * The governance check right before a write-back (src/governance/version-gate.ts). Called under the
 * per-patient+model write lock, it reads the version's mode as the registry holds it now, keeps that
 * mode from changing until `write` returns (a recall waits for writes in flight, and every later
 * write sees it) and records the result in the audit trail in the same step. A stopped version
 * writes nothing: `write` is not called.
 */
export interface WriteGate {
  run(write: (mode: GateMode) => Promise<WriteBackResult>): Promise<WriteBackResult | StoppedMode>;
}
