import { createHash } from 'node:crypto';

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

/**
 * Redis keys of the write-back stage. Every key is scoped by the EHR's base URL (hashed), because
 * resource ids and locks only mean something per EHR. Values hold ids only, never resource content
 * (the shadow store, which does hold PHI, has its own keys: see shadow-store.ts).
 */
export class WriteBackKeys {
  constructor(
    private readonly prefix: string,
    private readonly baseUrl: string,
  ) {}

  private get scope(): string {
    return `${this.prefix}:writeback:${short(this.baseUrl)}`;
  }

  /**
   * Mutex around one patient's write-back for one model: the previous-impression search, the write
   * and the superseding of the model's older results happen as one step, so two workers (retries,
   * duplicates, or two record changes close together) never both chain to, or both withdraw, the same
   * previous assessment. It covers every assessment key of the pair, so it also serialises duplicates.
   */
  patientModelLock(patientId: string, modelId: string): string {
    return `${this.scope}:lock:${short(`${patientId}|${modelId}`)}`;
  }

  /** Mutex around the conditional create of one Device identifier. */
  deviceLock(identifier: string): string {
    return `${this.scope}:device-lock:${short(identifier)}`;
  }

  /** `Device/<id>` of a Device identifier once it is known to exist on this EHR. */
  deviceRef(identifier: string): string {
    return `${this.scope}:device:${short(identifier)}`;
  }
}
