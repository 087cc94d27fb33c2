import type { Group } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AssessRequests } from '../jobs/assess-requests.js';
import { enqueueValidation, type ValidateJob, type ValidateJobResult } from '../jobs/validate-queue.js';
import type { ValidationReport } from '../validation/report.js';
import { type ApiDeps, pickSource, publicBase, sendFhir, type ValidationApiDeps } from './api-deps.js';
import { ApiError } from './api-error.js';
import { ehrError } from './assess-routes.js';
import { ownerOf, requireAuth, SCOPES } from './auth.js';
import { outcome } from './operation-outcome.js';
import { parseValidateParams } from './validate-params.js';
import { failedRunOutcome, progressText, validationResult } from './validation-result.js';

/** Seconds a client should wait between status polls. */
const RETRY_AFTER_S = 5;

const statusParams = {
  params: { type: 'object', properties: { id: { type: 'string', pattern: '^[a-f0-9]{24}$' } }, required: ['id'] },
};

/**
 * `POST /fhir/$validate-model`: retrospective validation, as `fhir-assess validate` runs it, queued
 * for the workers (always asynchronous: 202 + Content-Location). Identical requests share one run.
 * `GET /fhir/$validate-model-status/{id}`: 202 + X-Progress while it runs, 200 + Parameters with the
 * stored reports when done, an OperationOutcome when it failed. Scope `fhir-assess/validate`.
 */
export async function validateRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const preHandler = requireAuth(deps.auth, SCOPES.validate);
  app.post('/fhir/$validate-model', { preHandler }, (req, reply) => start(deps, req, reply));
  app.get('/fhir/$validate-model-status/:id', { preHandler, schema: statusParams }, (req, reply) =>
    status(deps, req, reply),
  );
}

async function start(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const v = deps.validation;
  const { source: sourceName, ...params } = parseValidateParams(req.query, req.body, v.configured);
  const source = pickSource(deps, sourceName);
  if (!v.store)
    throw new ApiError(
      501,
      '$validate-model stores its reports in PostgreSQL so that a promotion can cite them: set DATABASE_URL ' +
        '(or run `fhir-assess validate`, which writes the reports to files)',
    );
  if (params.selection.kind === 'group') await ensureGroup(deps, source.name, params.selection.id);
  const jobId = await enqueueValidation(v.queue, { ...params, source: source.name });
  const requestId = AssessRequests.newId();
  await v.requests.create(
    {
      id: requestId,
      level: 'system',
      source: source.name,
      target: params.selection.kind === 'group' ? `Group/${params.selection.id}` : 'all patients',
      total: 1,
      owner: req.principal ? ownerOf(req.principal) : 'anonymous',
      created: new Date().toISOString(),
    },
    [jobId],
  );
  const statusUrl = `${publicBase(deps, req)}/fhir/$validate-model-status/${requestId}`;
  return sendFhir(
    reply.header('Content-Location', statusUrl),
    202,
    outcome('information', 'informational', `accepted as validation run ${jobId}; poll ${statusUrl} for the reports`),
  );
}

/** A fast 404 for a Group the EHR does not hold, before anything is queued. */
async function ensureGroup(deps: ApiDeps, sourceName: string, groupId: string): Promise<void> {
  const { client } = pickSource(deps, sourceName);
  try {
    await client.read<Group>('Group', groupId);
  } catch (err) {
    throw ehrError(err, `Group/${groupId}`, sourceName);
  }
}

async function status(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const v = deps.validation;
  const id = (req.params as { id: string }).id;
  const request = await v.requests.get(id);
  // Someone else's request is reported exactly like a missing one: no probing of other callers' ids.
  if (!request || !req.principal || request.owner !== ownerOf(req.principal))
    throw new ApiError(404, `no $validate-model request ${id} (unknown, expired after 24 h, or not yours)`);
  const [jobId] = await v.requests.jobIds(id);
  // State first, then the job: the other order can see `completed` without the return value.
  const state = await v.queue.getJobState(jobId);
  const job = (await v.queue.getJob(jobId)) as Job<ValidateJob, ValidateJobResult> | undefined;
  if (!job || state === 'unknown')
    throw new ApiError(410, `validation run ${jobId} is no longer kept; its stored reports remain in PostgreSQL`);
  if (state === 'failed') {
    const failed = failedRunOutcome(jobId, job);
    return sendFhir(reply, failed.status, failed.body);
  }
  if (state !== 'completed') {
    const progress = progressText(state, job);
    reply.header('X-Progress', progress).header('Retry-After', String(RETRY_AFTER_S));
    return sendFhir(reply, 202, outcome('information', 'informational', `validation run ${jobId}: ${progress}`));
  }
  const reports = await storedReports(v, job.returnvalue);
  return sendFhir(reply, 200, validationResult(jobId, reports, publicBase(deps, req)));
}

async function storedReports(v: ValidationApiDeps, result: ValidateJobResult): Promise<ValidationReport[]> {
  if (!v.store) throw new ApiError(501, '$validate-model needs DATABASE_URL');
  const store = v.store;
  return Promise.all(
    result.reports.map(async ({ id }) => {
      const report = await store.get(id);
      if (!report) throw new ApiError(500, `validation report ${id} is missing from PostgreSQL`);
      return report;
    }),
  );
}
