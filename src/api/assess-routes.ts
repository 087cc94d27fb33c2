import type { Group, Patient } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { patientIdFromReference } from '../intake/resource-facts.js';
import { type AssessJob, enqueueAssessment } from '../jobs/assess-queue.js';
import { AssessRequests } from '../jobs/assess-requests.js';
import { countAssessRequest } from '../observability/metrics.js';
import { ShadowStore } from '../writeback/shadow-store.js';
import { type ApiDeps, pickSource, publicBase, sendFhir } from './api-deps.js';
import { ApiError } from './api-error.js';
import { type AssessParams, parseAssessParams } from './assess-params.js';
import { ownerOf, requireAuth, SCOPES } from './auth.js';
import { waitForJob } from './await-job.js';
import { outcome } from './operation-outcome.js';
import { patientResultBundle } from './outcome-bundle.js';

/** Members one `Group/{id}/$assess` may enqueue; larger groups go through `fhir-assess backfill --group`. */
export const MAX_GROUP_MEMBERS = 10_000;
/** Retention handed to the shadow store, which only matters when saving: the API only reads (days). */
const SHADOW_READ_RETENTION_DAYS = 90;
/** Jobs added to Redis at once while enqueueing a batch. */
const ENQUEUE_CHUNK = 50;

const idParams = {
  params: { type: 'object', properties: { id: { type: 'string', pattern: FHIR_ID.source } }, required: ['id'] },
};

/**
 * `POST /fhir/Patient/{id}/$assess` (synchronous up to ASSESS_SYNC_TIMEOUT_MS, else 202),
 * `POST /fhir/Group/{id}/$assess` and `POST /fhir/$assess` (always asynchronous).
 */
export async function assessRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const preHandler = requireAuth(deps.auth, SCOPES.assess);
  app.post('/fhir/Patient/:id/$assess', { preHandler, schema: idParams }, (req, reply) =>
    assessOnePatient(deps, req, reply),
  );
  app.post('/fhir/Group/:id/$assess', { preHandler, schema: idParams }, async (req, reply) => {
    const params = parseAssessParams(req.query, req.body, deps.modelIds);
    if (params.patients.length)
      throw new ApiError(400, "'patient' is only allowed at system level (POST /fhir/$assess)");
    const source = pickSource(deps, params.source);
    const groupId = (req.params as { id: string }).id;
    const members = await groupMembers(source.client, groupId);
    return startBatch(
      deps,
      req,
      reply,
      { level: 'group', target: `Group/${groupId}`, source: source.name, params },
      members,
    );
  });
  app.post('/fhir/$assess', { preHandler }, async (req, reply) => {
    const params = parseAssessParams(req.query, req.body, deps.modelIds);
    if (!params.patients.length) throw new ApiError(400, "system-level $assess needs at least one 'patient' parameter");
    const source = pickSource(deps, params.source);
    return startBatch(
      deps,
      req,
      reply,
      { level: 'system', target: 'system', source: source.name, params },
      params.patients,
    );
  });
}

async function assessOnePatient(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const params = parseAssessParams(req.query, req.body, deps.modelIds);
  if (params.patients.length) throw new ApiError(400, "'patient' is only allowed at system level (POST /fhir/$assess)");
  const patientId = (req.params as { id: string }).id;
  const source = pickSource(deps, params.source);
  await ensurePatientExists(source.client, patientId, source.name);
  const requestId = AssessRequests.newId();
  const job = await enqueueAssessment(deps.assessQueue, jobData(source.name, patientId, 'api', params, requestId), 0);
  await deps.requests.create(
    {
      id: requestId,
      level: 'patient',
      source: source.name,
      target: `Patient/${patientId}`,
      total: 1,
      owner: owner(req),
      created: now(),
    },
    [String(job.id)],
  );
  if (prefersAsync(req)) return accepted(deps, req, reply, requestId, 'patient');
  const finished = await waitForJob(deps.assessQueue, deps.assessEvents, String(job.id), deps.syncTimeoutMs);
  if (finished.state === 'timeout') return accepted(deps, req, reply, requestId, 'patient');
  if (finished.state === 'failed') {
    countAssessRequest('patient', String(finished.status));
    return sendFhir(reply, finished.status, finished.outcome);
  }
  countAssessRequest('patient', '200');
  const shadow = {
    store: new ShadowStore(deps.redis, deps.keyPrefix, SHADOW_READ_RETENTION_DAYS),
    source: source.name,
  };
  return sendFhir(reply, 200, await patientResultBundle(source.client, patientId, finished.result, shadow));
}

interface BatchSpec {
  level: 'group' | 'system';
  target: string;
  source: string;
  params: AssessParams;
}

/** Enqueues one `batch`-priority job per patient, records the request, answers 202 + Content-Location. */
async function startBatch(
  deps: ApiDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  spec: BatchSpec,
  patients: string[],
) {
  const requestId = AssessRequests.newId();
  const jobIds: string[] = [];
  for (let i = 0; i < patients.length; i += ENQUEUE_CHUNK) {
    const chunk = patients.slice(i, i + ENQUEUE_CHUNK);
    const jobs = await Promise.all(
      chunk.map((p) =>
        enqueueAssessment(deps.assessQueue, jobData(spec.source, p, 'batch', spec.params, requestId), 0),
      ),
    );
    jobIds.push(...jobs.map((j) => String(j.id)));
  }
  await deps.requests.create(
    {
      id: requestId,
      level: spec.level,
      source: spec.source,
      target: spec.target,
      total: patients.length,
      owner: owner(req),
      created: now(),
    },
    jobIds,
  );
  return accepted(deps, req, reply, requestId, spec.level);
}

function jobData(
  source: string,
  patientId: string,
  priority: AssessJob['priority'],
  p: AssessParams,
  requestId: string,
): AssessJob {
  return { source, patientId, trigger: 'api', priority, models: p.models, force: true, requestId };
}

/** The Group's active Patient members (references resolved against the EHR base; others ignored). */
async function groupMembers(client: FhirClient, groupId: string): Promise<string[]> {
  let group: Group;
  try {
    group = await client.read<Group>('Group', groupId);
  } catch (err) {
    throw ehrError(err, `Group/${groupId}`);
  }
  const ids = (group.member ?? [])
    .filter((m) => !m.inactive)
    .map((m) => patientIdFromReference(m.entity))
    .filter((id): id is string => !!id);
  const unique = [...new Set(ids)];
  if (!unique.length) throw new ApiError(422, `Group/${groupId} has no active Patient members`);
  if (unique.length > MAX_GROUP_MEMBERS)
    throw new ApiError(
      413,
      `Group/${groupId} has ${unique.length} members; at most ${MAX_GROUP_MEMBERS} (use: fhir-assess backfill --group ${groupId})`,
    );
  return unique;
}

/** A fast 404 for an unknown patient, before anything is queued. */
async function ensurePatientExists(client: FhirClient, patientId: string, source: string): Promise<void> {
  try {
    await client.read<Patient>('Patient', patientId);
  } catch (err) {
    throw ehrError(err, `Patient/${patientId}`, source);
  }
}

/** An EHR read's failure as the API reports it: 404 for a missing resource, 502 for the EHR's other refusals and failures. */
export function ehrError(err: unknown, what: string, source = 'the EHR'): ApiError {
  if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410))
    return new ApiError(404, `${what} not found on ${source}`);
  if (err instanceof FhirHttpError && err.status < 500)
    return new ApiError(502, `${source} refused to read ${what} (HTTP ${err.status})`);
  return new ApiError(502, `${source} did not answer reading ${what}`);
}

function accepted(
  deps: ApiDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  requestId: string,
  level: 'patient' | 'group' | 'system',
) {
  countAssessRequest(level, '202');
  const statusUrl = `${publicBase(deps, req)}/fhir/$assess-status/${requestId}`;
  return sendFhir(
    reply.header('Content-Location', statusUrl),
    202,
    outcome('information', 'informational', `accepted; poll ${statusUrl} for the result`),
  );
}

/** RFC 7240 `Prefer: respond-async` (among other preferences). */
function prefersAsync(req: FastifyRequest): boolean {
  const prefer = req.headers.prefer;
  const text = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  return text.split(/[,;]/).some((p) => p.trim().toLowerCase() === 'respond-async');
}

const owner = (req: FastifyRequest) => (req.principal ? ownerOf(req.principal) : 'anonymous');
const now = () => new Date().toISOString();
