import { createHmac } from 'node:crypto';

/** Longest date shift, days (dates move 1–365 days into the past). */
export const MAX_SHIFT_DAYS = 365;
/** Hex characters of HMAC-SHA256 kept per pseudonym: 24 (96 bits, collision-free at record sizes). */
const PSEUDONYM_HEX = 24;

/**
 * Pseudonyms and the date shift for one patient's de-identified record, derived with HMAC-SHA256
 * from a secret key. Pseudonyms are scoped to the patient (the same Practitioner gets a different
 * pseudonym in another patient's record), so records cannot be linked across patients. The reverse
 * map lives only in this object, i.e. in the worker's memory for one job.
 */
export class Pseudonymizer {
  /** Days every date of this patient is moved into the past (1..365). */
  readonly shiftDays: number;
  private readonly toReal = new Map<string, string>();

  constructor(
    private readonly key: string | Buffer,
    private readonly patientId: string,
  ) {
    const digest = createHmac('sha256', key).update(`date-shift\u0000${patientId}`).digest();
    this.shiftDays = 1 + (digest.readUInt32BE(0) % MAX_SHIFT_DAYS);
  }

  /** Pseudonymous id for `type/id`, remembered for re-linking. */
  id(type: string, id: string): string {
    const pseudo = createHmac('sha256', this.key)
      .update(`id\u0000${this.patientId}\u0000${type}/${id}`)
      .digest('hex')
      .slice(0, PSEUDONYM_HEX);
    this.toReal.set(`${type}/${pseudo}`, `${type}/${id}`);
    return pseudo;
  }

  /** `Type/pseudonym` for a relative `Type/id` reference (history suffix dropped); undefined otherwise. */
  reference(ref: string): string | undefined {
    const m = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
    if (!m || ref.startsWith('urn:') || ref.startsWith('#')) return undefined;
    return `${m[1]}/${this.id(m[1], m[2])}`;
  }

  /** The real `Type/id` behind a pseudonymous reference, or undefined when it is not one of ours. */
  real(pseudoRef: string): string | undefined {
    return this.toReal.get(pseudoRef);
  }

  /** Every pseudonymous reference handed out, with its real reference. */
  mappings(): ReadonlyMap<string, string> {
    return this.toReal;
  }
}
