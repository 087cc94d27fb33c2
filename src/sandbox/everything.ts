import { allOk, badRequest, deepClone, notFound, type WithId } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { DEFAULT_EVERYTHING_COUNT } from './constants.js';
import { operationParams, type SandboxContext } from './context.js';
import { addPagingLinks, normalizePageParams } from './paging.js';

/** Parsed `$everything` input parameters. */
interface EverythingParams {
  types?: Set<string>;
  sinceMs?: number;
  params: URLSearchParams;
}

/**
 * `GET|POST Patient/{id}/$everything`: the patient's compartment from the index, Patient first,
 * then the other types in first-seen order. Supports `_type`, `_since` (meta.lastUpdated >= since),
 * `_count` (default 100, max 1000) and `_offset`, with `next` links. Unknown patient: 404.
 */
export function everythingHandler(ctx: SandboxContext): FhirRouteHandler {
  return async (req: FhirRequest): Promise<FhirResponse> => {
    const patientId = req.params.id;
    const patient = ctx.repo.peek('Patient', patientId);
    if (!patient) return [notFound];
    const parsed = parseEverythingParams(req);
    if (typeof parsed === 'string') return [badRequest(parsed)];
    const window = normalizePageParams(parsed.params, DEFAULT_EVERYTHING_COUNT);
    const all = compartmentOf(ctx, patient, parsed);
    const page = all.slice(window.offset, window.offset + window.count);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: all.length,
      entry: page.map((r) => ({
        fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`,
        resource: deepClone(r),
        search: { mode: 'match' },
      })),
    };
    const path = `Patient/${encodeURIComponent(patientId)}/$everything`;
    return [allOk, addPagingLinks(bundle, ctx.baseUrl, path, parsed.params, window)];
  };
}

/** Every matching compartment resource (read-only stored objects), Patient first. */
function compartmentOf(ctx: SandboxContext, patient: WithId<Resource>, p: EverythingParams): WithId<Resource>[] {
  const keep = (r: Resource): boolean =>
    (!p.types || p.types.has(r.resourceType)) && (p.sinceMs === undefined || lastUpdatedMs(r) >= p.sinceMs);
  const out: WithId<Resource>[] = keep(patient) ? [patient] : [];
  for (const type of ctx.repo.patientIndex.typesOf(patient.id)) {
    if (p.types && !p.types.has(type)) continue;
    for (const r of ctx.repo.compartment(patient.id, type)) {
      if (r !== patient && keep(r)) out.push(r);
    }
  }
  return out;
}

function lastUpdatedMs(resource: Resource): number {
  const value = resource.meta?.lastUpdated;
  return value ? Date.parse(value) : Number.NEGATIVE_INFINITY;
}

/** Merges query parameters with a POSTed Parameters body; returns an error message when invalid. */
function parseEverythingParams(req: FhirRequest): EverythingParams | string {
  const params = operationParams(req);
  const typeList = params
    .getAll('_type')
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  const since = params.get('_since');
  const sinceMs = since ? Date.parse(since) : undefined;
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) return `Invalid _since instant: ${since}`;
  return { types: typeList.length ? new Set(typeList) : undefined, sinceMs, params };
}
