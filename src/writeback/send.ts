import type { Bundle, Resource } from '@medplum/fhirtypes';
import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import { createOne, type WrittenEntry } from './create-one.js';
import { findByConditions } from './find-written.js';
import { type PlannedEntry, toTransaction } from './plan.js';
import { readTransactionReply } from './reply-entries.js';
import { learnFromReply, preferenceFor, type ReturnPolicy } from './return-preference.js';
import { createdNow } from './run-time.js';

export type { WrittenEntry } from './create-one.js';

/** HTTP statuses with which an EHR says "no transactions here" (405/501), or has no such endpoint (404). */
const REFUSED_STATUSES = new Set([404, 405, 501]);

/** Per client: does the EHR take transactions? Learned from metadata, then from a refusal. */
const support = new WeakMap<FhirClient, Promise<boolean>>();

/**
 * Whether to send a transaction: the EHR's CapabilityStatement (fetched once per client, shared with
 * record assembly) decides when there is one; without one we try, and fall back on refusal.
 */
export function supportsTransactions(client: FhirClient): Promise<boolean> {
  let known = support.get(client);
  if (!known) {
    known = client.capabilities().then(
      (caps) => (caps.known ? caps.transaction : true),
      () => true,
    );
    support.set(client, known);
  }
  return known;
}

/** True when the EHR refused the transaction as such (not its content): fall back to single creates. */
export function isTransactionRefused(err: unknown): boolean {
  if (!(err instanceof FhirHttpError)) return false;
  if (REFUSED_STATUSES.has(err.status)) return true;
  return err.status >= 400 && err.status < 500 && !!err.outcome.issue?.some((i) => i.code === 'not-supported');
}

/** Remembers that this EHR refuses transactions (for the rest of the process). */
export function markTransactionsRefused(client: FhirClient): void {
  support.set(client, Promise.resolve(false));
}

/**
 * Sends the plan as one transaction and returns, per entry, what the EHR holds. Every reply shape
 * FHIR allows works (see reply-entries.ts); entries the reply leaves unknown are looked up by their
 * conditions in one batch of searches. A 2xx transaction is atomic, so an entry not found then is a
 * real inconsistency: a retryable error. An entry the EHR reports as failed throws WriteBackEntryError.
 */
export async function sendTransaction(
  client: FhirClient,
  entries: PlannedEntry[],
  policy?: ReturnPolicy,
): Promise<WrittenEntry[]> {
  const prefer = preferenceFor(client, 'transaction', policy);
  const reply = await client.exchange<Bundle>('POST', '', toTransaction(entries), { Prefer: `return=${prefer}` });
  const known = readTransactionReply(reply.body, entries);
  const unknown = entries.filter((_, i) => !known[i].reference);
  learnFromReply(client, 'transaction', prefer, unknown.length === 0, policy);
  const found = await findByConditions(client, unknown);
  let next = 0;
  return entries.map((entry, i) => {
    const k = known[i];
    const byStatus = k.status === 201 ? true : k.status === 200 ? false : undefined;
    if (k.reference)
      return { reference: k.reference, created: byStatus ?? (k.resource && createdNow(entry.resource, k.resource)) };
    const match = found[next++];
    if (!match) {
      const type = entry.resource.resourceType;
      throw new Error(
        `EHR answered ${reply.status} to the transaction, but its ${type} (${entry.ifNoneExist}) is not there; will retry`,
      );
    }
    return { reference: `${match.resourceType}/${match.id}`, created: byStatus ?? createdNow(entry.resource, match) };
  });
}

/**
 * True when the EHR refused the transaction for its size: HTTP 413, or a 400 whose OperationOutcome
 * says so: Medplum answers bodies over its 1 MB limit with "File too large", and its fhir-router
 * refuses a strict-isolation transaction (one with conditional creates) of more than 8 entries
 * ("... has too many entries"). The ordered single creates are each far smaller.
 */
export function isTooLarge(err: unknown): boolean {
  if (!(err instanceof FhirHttpError)) return false;
  if (err.status === 413) return true;
  const text = (err.outcome.issue ?? []).map((i) => `${i.details?.text ?? ''} ${i.diagnostics ?? ''}`).join(' ');
  return err.status === 400 && /\b(?:(?:file|entity|payload|request|body) too large|too many entries)\b/i.test(text);
}

/**
 * The fallback for EHRs without transactions: one conditional create per entry, in plan order
 * (Devices, RiskAssessments, ClinicalImpression, Provenance), each later entry's `urn:uuid`
 * references rewritten to the ids the EHR gave the earlier ones. Every step is a conditional create,
 * so re-running the whole sequence after a crash at any step finds what exists and creates the rest.
 */
export async function sendSequential(
  client: FhirClient,
  entries: PlannedEntry[],
  policy?: ReturnPolicy,
): Promise<WrittenEntry[]> {
  const ids = new Map<string, string>();
  const out: WrittenEntry[] = [];
  for (const entry of entries) {
    const written = await createOne(client, { ...entry, resource: withResolvedRefs(entry.resource, ids) }, policy);
    ids.set(entry.fullUrl, written.reference);
    out.push(written);
  }
  return out;
}

/** A copy of the resource with every `reference` that names an earlier entry's fullUrl rewritten. */
export function withResolvedRefs<T extends Resource>(resource: T, ids: Map<string, string>): T {
  return JSON.parse(JSON.stringify(resource), (key, value) =>
    key === 'reference' && typeof value === 'string' ? (ids.get(value) ?? value) : value,
  ) as T;
}
