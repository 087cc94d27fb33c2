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

  /** Mutex around one assessment's write (its key is already a sha-256). */
  assessmentLock(assessmentKey: string): string {
    return `${this.scope}:lock:${assessmentKey}`;
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
