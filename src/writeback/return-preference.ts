import type { FhirClient } from '../fhir/fhir-client.js';

/** The `Prefer: return=` value a write asks for (FHIR http.html#ops). */
export type ReturnPreference = 'minimal' | 'representation';

/**
 * How write-backs choose it: `adaptive` (default) asks for `minimal` until a minimal reply fails to
 * say what was written (Medplum's empty body), then asks that EHR for `representation`, which
 * saves the follow-up search; or one fixed value (the benchmark compares them).
 */
export type ReturnPolicy = ReturnPreference | 'adaptive';

/** Transactions and single creates are learned apart: an EHR may answer a create with a Location but a transaction with nothing. */
export type WriteKind = 'transaction' | 'create';

const learned = new WeakMap<FhirClient, Partial<Record<WriteKind, ReturnPreference>>>();

/** The preference to send for this kind of write to this EHR. */
export function preferenceFor(
  client: FhirClient,
  kind: WriteKind,
  policy: ReturnPolicy = 'adaptive',
): ReturnPreference {
  if (policy !== 'adaptive') return policy;
  return learned.get(client)?.[kind] ?? 'minimal';
}

/**
 * Records whether a reply named what was written. A minimal reply that did not (so a search had
 * to) switches this EHR to `representation` for this kind of write, for the rest of the process.
 */
export function learnFromReply(
  client: FhirClient,
  kind: WriteKind,
  sent: ReturnPreference,
  identified: boolean,
  policy: ReturnPolicy = 'adaptive',
): void {
  if (policy !== 'adaptive' || sent !== 'minimal' || identified) return;
  learned.set(client, { ...learned.get(client), [kind]: 'representation' });
}
