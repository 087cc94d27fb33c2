import type { FhirRequest } from '@medplum/fhir-router';
import type { CapabilityStatement, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { IndexedRepository } from './indexed-repository.js';

/** State shared by the route handlers, the notifier and the HTTP server of one sandbox. */
export interface SandboxContext {
  readonly repo: IndexedRepository;
  /** `http://127.0.0.1:PORT/fhir/R4`; set once the server listens. */
  baseUrl: string;
  readonly logger: Logger;
  /**
   * Applied once, in order, to the CapabilityStatement when it is first built: a quirk that refuses
   * something (transactions, `$everything`, Subscriptions) also stops advertising it.
   */
  readonly capabilityEdits: ((cs: CapabilityStatement) => void)[];
  /**
   * Rewrites a request URL (relative to the base, with its query) before it is routed, or refuses
   * it; e.g. HAPI's `?_getpages=` links back to the search they page. Undefined: no rewriting.
   */
  rewriteUrl?: (relative: string) => string | RefusedRequest;
}

/** A request a quirk refuses before routing: the status and the OperationOutcome to answer. */
export interface RefusedRequest {
  status: number;
  outcome: OperationOutcome;
}

/** An OperationOutcome with one error issue: what went wrong, in words a client can act on. */
export function errorOutcome(code: string, text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  } as OperationOutcome;
}

/** FhirRequest.query (or a Parameters-derived record) as URLSearchParams, keeping repeated keys. */
export function toSearchParams(query: Record<string, string | string[] | undefined> | undefined): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else if (value !== undefined) params.append(key, value);
  }
  return params;
}

/** Operation input: query parameters plus the primitive values of a POSTed Parameters body. */
export function operationParams(req: FhirRequest): URLSearchParams {
  const params = toSearchParams(req.query);
  const body = req.body as Parameters | undefined;
  if (req.method !== 'POST' || body?.resourceType !== 'Parameters') return params;
  for (const p of body.parameter ?? []) {
    const value = primitiveValue(p as unknown as Record<string, unknown>);
    if (p.name && value !== undefined) params.append(p.name, value);
  }
  return params;
}

function primitiveValue(p: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(p)) {
    if (key.startsWith('value') && (typeof value === 'string' || typeof value === 'number')) return String(value);
  }
  return undefined;
}
