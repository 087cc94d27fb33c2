import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { PlannedEntry } from './plan.js';

/** What a reply says about one planned entry; `reference` absent: it did not say which resource. */
export interface EntryReply {
  /** HTTP status of the entry (`"201 Created"` → 201); undefined when the reply did not give one. */
  status?: number;
  /** `Type/id`, from the entry's `location` or its resource. */
  reference?: string;
  /** The resource, when the EHR sent it back. */
  resource?: Resource;
}

/** A write-back entry the EHR refused: its status and OperationOutcome, named by entry index and type. */
export class WriteBackEntryError extends FhirHttpError {
  constructor(
    readonly index: number,
    readonly resourceType: string,
    status: number,
    ehrOutcome: OperationOutcome | undefined,
  ) {
    const ours = {
      severity: 'error' as const,
      code: 'processing' as const,
      diagnostics: `write-back entry ${index} (${resourceType}) failed with status ${status}`,
    };
    super(status, { resourceType: 'OperationOutcome', issue: [ours, ...(ehrOutcome?.issue ?? [])] }, '/');
    this.name = 'WriteBackEntryError';
  }
}

/** The numeric status of a Bundle entry response: "201 Created", "201", "HTTP/1.1 200 OK" all work. */
export function entryStatus(status: string | undefined): number | undefined {
  const m = /\b([1-5]\d\d)\b/.exec(status ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Reads a transaction reply entry by entry. Any shape FHIR allows is accepted: a
 * `transaction-response` with or without resources and locations, an empty body, or a bare
 * OperationOutcome; what it does not say stays unknown (to be looked up by the entry's condition).
 * An entry whose status is not 2xx throws {@link WriteBackEntryError}.
 */
export function readTransactionReply(body: unknown, entries: PlannedEntry[]): EntryReply[] {
  const bundle = body as Bundle | undefined;
  // Not a Bundle (empty body, OperationOutcome), or one that does not match what we sent: nothing is known.
  if (bundle?.resourceType !== 'Bundle' || (bundle.entry ?? []).length !== entries.length)
    return entries.map(() => ({}));
  return (bundle.entry ?? []).map((e, i) => readEntry(e, i, entries[i]));
}

function readEntry(e: BundleEntry, index: number, planned: PlannedEntry): EntryReply {
  const status = entryStatus(e.response?.status);
  const type = planned.resource.resourceType;
  if (status !== undefined && status >= 300) {
    throw new WriteBackEntryError(index, type, status, e.response?.outcome as OperationOutcome | undefined);
  }
  const resource = e.resource?.resourceType === type && e.resource.id ? e.resource : undefined;
  const fromLocation = e.response?.location ? referenceOf(e.response.location, type) : undefined;
  return { status, reference: fromLocation ?? (resource ? `${type}/${resource.id}` : undefined), resource };
}

/**
 * `Type/id` of a Location (absolute or relative, with or without `/_history/n`); undefined when it
 * does not name a resource of the expected type.
 */
export function referenceOf(location: string, type: string): string | undefined {
  const path = location.split('?')[0].replace(/\/_history\/[^/]*$/, '');
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(path);
  return m && m[1] === type ? `${m[1]}/${m[2]}` : undefined;
}
