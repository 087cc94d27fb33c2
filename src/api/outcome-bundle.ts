import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { AssessJobResult } from '../jobs/assess-queue.js';
import type { JobOutcome } from '../jobs/job-outcomes.js';
import type { ShadowStore } from '../writeback/shadow-store.js';
import { outcome } from './operation-outcome.js';

/** Above this many written resources a status Bundle lists locations only, not bodies. */
export const MAX_INLINE_RESOURCES = 200;
/** EHR reads in flight while reading results back. */
const READ_CONCURRENCY = 8;
/** Ids per `_id` search when reading results back (keeps the URL well under 8 KB). */
const IDS_PER_SEARCH = 50;

/** Every `Type/id` the job wrote (or found already written), de-duplicated (Devices are shared). */
export function writtenRefs(result: AssessJobResult | undefined): string[] {
  return [...new Set((result?.assessments ?? []).flatMap((a) => a.written))];
}

/** Notes for models that wrote nothing: skipped as unchanged, or shadow mode (nothing written, nothing kept). */
export function assessmentNotes(patientId: string, result: AssessJobResult | undefined): OperationOutcome | undefined {
  const issues = (result?.assessments ?? []).flatMap((a) => {
    const model = `${a.modelId}@${a.modelVersion}`;
    if (a.skipped === 'retired' || a.skipped === 'recalled' || a.mode === 'retired' || a.mode === 'recalled')
      return [`${model}: ${a.skipped ?? a.mode}: this version no longer writes results (docs/governance.md)`];
    if (a.skipped)
      return [`${model}: skipped for Patient/${patientId}: the record is unchanged since its last assessment`];
    if (a.mode === 'shadow')
      return [
        `${model}: shadow mode: computed for Patient/${patientId} but not written to the EHR; what it would have written is kept in the shadow store (assessment key ${a.key ?? 'unknown'})`,
      ];
    return [];
  });
  if (!result?.assessments.length) issues.push(`no model ran for Patient/${patientId}`);
  if (!issues.length) return undefined;
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((diagnostics) => ({
      severity: 'information' as const,
      code: 'informational' as const,
      diagnostics,
    })),
  };
}

/**
 * The synchronous `$assess` answer for one patient: a `collection` Bundle of the resources the job
 * wrote, read back from the EHR (so the caller sees exactly what is in the chart), the would-be
 * resources of shadow-mode models (from the shadow store, `urn:uuid` ids), plus an OperationOutcome
 * for models that wrote nothing.
 */
export async function patientResultBundle(
  client: FhirClient,
  patientId: string,
  result: AssessJobResult,
  shadow?: { store: ShadowStore; source: string },
): Promise<Bundle> {
  const resources = await readAll(client, writtenRefs(result));
  const entry: BundleEntry[] = resources.map((resource) => ({
    fullUrl: `${client.baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
  }));
  for (const a of result.assessments) {
    if (a.mode !== 'shadow' || !a.key || !shadow) continue;
    const record = await shadow.store.get(shadow.source, a.key);
    for (const e of record?.bundle.entry ?? [])
      if (e.resource) entry.push({ fullUrl: e.fullUrl, resource: e.resource });
  }
  const notes = assessmentNotes(patientId, result);
  if (notes) entry.push({ resource: notes });
  return { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry };
}

/**
 * The completed-request answer of the status URL (FHIR async pattern): a `batch-response` Bundle
 * with one entry per written resource (`201 Created` + location, and the resource itself when the
 * request wrote at most MAX_INLINE_RESOURCES), and one entry with an OperationOutcome per patient
 * that failed or wrote nothing.
 */
export async function statusResultBundle(client: FhirClient, outcomes: JobOutcome[]): Promise<Bundle> {
  const refs = outcomes.flatMap((o) => writtenRefs(o.result));
  const inline = refs.length <= MAX_INLINE_RESOURCES;
  const bodies = new Map((inline ? await readAll(client, [...new Set(refs)]) : []).map((r) => [ref(r), r]));
  const entry: BundleEntry[] = [];
  for (const o of outcomes) {
    const patient = o.patientId ? `Patient/${o.patientId}` : `job ${o.jobId}`;
    if (o.state === 'failed')
      entry.push(errorEntry(o.failureStatus ?? 500, `${patient}: assessment failed: ${o.failedReason ?? 'unknown'}`));
    else if (o.state === 'missing') entry.push(errorEntry(410, `${patient}: the job's result has expired (kept 24 h)`));
    for (const location of writtenRefs(o.result)) {
      entry.push({ resource: bodies.get(location), response: { status: '201 Created', location } });
    }
    const notes = o.patientId ? assessmentNotes(o.patientId, o.result) : undefined;
    if (o.state === 'completed' && notes)
      entry.push({ response: { status: '200 OK', location: patient, outcome: notes } });
  }
  return { resourceType: 'Bundle', type: 'batch-response', timestamp: new Date().toISOString(), entry };
}

function errorEntry(status: number, message: string): BundleEntry {
  return {
    response: {
      status: String(status),
      outcome: outcome('error', status >= 500 ? 'exception' : 'processing', message),
    },
  };
}

const ref = (r: Resource) => `${r.resourceType}/${r.id}`;

/**
 * Reads `Type/id` references from the EHR with one `_id` search per type (a chunk of ids each), in
 * the order given; references that are gone are left out. An EHR that refuses the search is read
 * one resource at a time. Why: an assessment writes ~12 resources of 4 types, so 4 round trips
 * instead of 12 for every synchronous `$assess` answer.
 */
async function readAll(client: FhirClient, refs: string[]): Promise<Resource[]> {
  const byType = new Map<string, string[]>();
  for (const r of refs) {
    const [type, id] = r.split('/');
    byType.set(type, [...(byType.get(type) ?? []), id]);
  }
  const chunks = [...byType].flatMap(([type, ids]) => {
    const out: { type: string; ids: string[] }[] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_SEARCH) out.push({ type, ids: ids.slice(i, i + IDS_PER_SEARCH) });
    return out;
  });
  const found = new Map<string, Resource>();
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const { type, ids } = chunks[next++];
      for (const r of await readChunk(client, type, ids)) found.set(ref(r), r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, chunks.length) }, worker));
  return refs.map((r) => found.get(r)).filter((r): r is Resource => !!r);
}

async function readChunk(client: FhirClient, type: string, ids: string[]): Promise<Resource[]> {
  try {
    return await client.searchAll<Resource>(type, { _id: ids.join(','), _count: String(ids.length) });
  } catch {
    const one = (id: string) => client.read(type as Resource['resourceType'], id).catch(() => undefined);
    return (await Promise.all(ids.map(one))).filter((r): r is Resource => !!r);
  }
}
