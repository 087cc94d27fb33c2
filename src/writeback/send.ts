import type { Bundle, Resource } from '@medplum/fhirtypes';
import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import { type PlannedEntry, toTransaction } from './plan.js';

/** One resource the EHR holds after a write-back step. */
export interface WrittenEntry {
  /** `Type/id` */
  reference: string;
  /** True: created now; false: found (an earlier attempt or a racing worker wrote it); undefined: not known. */
  created?: boolean;
}

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

/** Sends the plan as one transaction; every entry must come back 200 (found) or 201 (created). */
export async function sendTransaction(client: FhirClient, entries: PlannedEntry[]): Promise<WrittenEntry[]> {
  // return=minimal: only status and location are needed back (servers that ignore it send the resources).
  const response = await client.request<Bundle>('POST', '', toTransaction(entries), { Prefer: 'return=minimal' });
  if ((response.entry ?? []).length !== entries.length) {
    throw new Error(`transaction response has ${response.entry?.length ?? 0} entries for ${entries.length} sent`);
  }
  const out: WrittenEntry[] = [];
  for (const [i, e] of (response.entry ?? []).entries()) {
    const status = e.response?.status ?? '';
    if (!/^20[01]/.test(status)) {
      throw new Error(`write-back entry ${i} (${entries[i].resource.resourceType}) failed with status ${status}`);
    }
    const loc = e.response?.location ?? (e.resource?.id ? `${e.resource.resourceType}/${e.resource.id}` : undefined);
    const reference = loc ? toTypeId(loc) : await findExisting(client, entries[i]);
    out.push({ reference, created: status.startsWith('201') });
  }
  return out;
}

/** A found (200) entry may come back with neither location nor resource: look it up by its condition. */
async function findExisting(client: FhirClient, entry: PlannedEntry): Promise<string> {
  const type = entry.resource.resourceType;
  const [match] = await client.searchAll<Resource>(`${type}?${entry.ifNoneExist}`);
  if (!match?.id) throw new Error(`transaction said ${type} exists, but ${entry.ifNoneExist} finds nothing`);
  return `${type}/${match.id}`;
}

/**
 * The fallback for EHRs without transactions: one conditional create per entry, in plan order
 * (Devices, RiskAssessments, ClinicalImpression, Provenance), each later entry's `urn:uuid`
 * references rewritten to the ids the EHR gave the earlier ones. Every step is a conditional create,
 * so re-running the whole sequence after a crash at any step finds what exists and creates the rest.
 */
export async function sendSequential(client: FhirClient, entries: PlannedEntry[]): Promise<WrittenEntry[]> {
  const ids = new Map<string, string>();
  const out: WrittenEntry[] = [];
  for (const entry of entries) {
    const resource = withResolvedRefs(entry.resource, ids);
    const saved = await client.create(resource, entry.ifNoneExist);
    const reference = `${saved.resourceType}/${saved.id}`;
    ids.set(entry.fullUrl, reference);
    out.push({ reference, created: createdNow(resource, saved) });
  }
  return out;
}

/** A copy of the resource with every `reference` that names an earlier entry's fullUrl rewritten. */
export function withResolvedRefs<T extends Resource>(resource: T, ids: Map<string, string>): T {
  return JSON.parse(JSON.stringify(resource), (key, value) =>
    key === 'reference' && typeof value === 'string' ? (ids.get(value) ?? value) : value,
  ) as T;
}

/** Run timestamps we write; they tell "created by this request" from "found from an earlier run". */
const RUN_TIME_FIELDS = ['occurrenceDateTime', 'date', 'recorded'] as const;

/**
 * A plain conditional create does not say whether it created or found the resource (both may answer
 * with the resource). Our outputs carry this run's timestamp, so equality means created now.
 */
function createdNow(sent: Resource, saved: Resource): boolean | undefined {
  const a = sent as unknown as Record<string, unknown>;
  const b = saved as unknown as Record<string, unknown>;
  const field = RUN_TIME_FIELDS.find((f) => typeof a[f] === 'string');
  if (!field) return undefined;
  return Date.parse(String(a[field])) === Date.parse(String(b[field]));
}

function toTypeId(location: string): string {
  return location.replace(/\/_history\/.*$/, '').replace(/^.*?([A-Z][A-Za-z]+\/[^/]+)$/, '$1');
}
