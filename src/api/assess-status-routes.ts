import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ASSESS_REQUEST_TTL_S, type AssessRequest } from '../jobs/assess-requests.js';
import { failureOutcome } from '../jobs/job-failure.js';
import { jobOutcomes, tally } from '../jobs/job-outcomes.js';
import { type ApiDeps, pickSource, sendFhir } from './api-deps.js';
import { ApiError } from './api-error.js';
import { ownerOf, requireAuth, SCOPES } from './auth.js';
import { outcome } from './operation-outcome.js';
import { statusResultBundle } from './outcome-bundle.js';

/** Seconds a client should wait between status polls. */
const RETRY_AFTER_S = 2;
/** Job states that can still be removed (not yet picked up by a worker). */
const REMOVABLE = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

const statusParams = {
  params: { type: 'object', properties: { id: { type: 'string', pattern: '^[a-f0-9]{24}$' } }, required: ['id'] },
};

/**
 * The status URL of the FHIR asynchronous pattern: `GET` answers 202 + `X-Progress` while jobs run,
 * 200 with a batch-response Bundle when done, 404/410 (patient not on the EHR), 502 (the EHR or the
 * hosted model failed or refused) or 500 (our fault) with an OperationOutcome saying what failed and
 * what to do when a single-patient request, or every patient of a batch, failed; `DELETE` cancels
 * what has not started yet.
 */
export async function assessStatusRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const preHandler = requireAuth(deps.auth, SCOPES.assess);
  app.get('/fhir/$assess-status/:id', { preHandler, schema: statusParams }, (req, reply) => status(deps, req, reply));
  app.delete('/fhir/$assess-status/:id', { preHandler, schema: statusParams }, async (req, reply) => {
    const message = await cancel(deps, await ownedRequest(deps, req));
    return sendFhir(reply, 202, outcome('information', 'informational', message));
  });
}

async function status(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const request = await ownedRequest(deps, req);
  const outcomes = await jobOutcomes(deps.assessQueue, await deps.requests.jobIds(request.id));
  const t = tally(outcomes);
  if (t.pending > 0) {
    const done = t.completed + t.failed + t.missing;
    const progress = `${done} of ${request.total} patients assessed${t.failed ? ` (${t.failed} failed)` : ''}`;
    reply.header('X-Progress', progress).header('Retry-After', String(RETRY_AFTER_S));
    return sendFhir(reply, 202, outcome('information', 'informational', progress));
  }
  const only = outcomes[0];
  if (request.level === 'patient' && only?.state === 'failed' && only.failure) {
    return sendFhir(reply, only.failure.status, failureOutcome(only.failure, request.target));
  }
  const failures = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
  if (request.total > 0 && t.failed === request.total && failures.length) {
    // All upstream (EHR or model): 502; any of our own faults, or a mix: 500. The first one is shown in full.
    const status = failures.every((f) => f.status === 502) ? 502 : 500;
    const first = failureOutcome(
      failures[0],
      `e.g. ${outcomes[0].patientId ? `Patient/${outcomes[0].patientId}` : 'the first'}`,
    );
    const summary = `every assessment of ${request.target} failed (${t.failed} of ${request.total}); the first is explained below`;
    return sendFhir(reply, status, {
      ...first,
      issue: [
        { severity: 'error', code: status === 502 ? 'transient' : 'exception', diagnostics: summary },
        ...first.issue,
      ],
    });
  }
  const { client } = pickSource(deps, request.source);
  reply.header('Expires', new Date(Date.parse(request.created) + ASSESS_REQUEST_TTL_S * 1000).toUTCString());
  return sendFhir(reply, 200, await statusResultBundle(client, outcomes));
}

/** Removes this request's jobs that have not started; running ones finish. */
async function cancel(deps: ApiDeps, request: AssessRequest): Promise<string> {
  let removed = 0;
  let running = 0;
  for (const id of await deps.requests.jobIds(request.id)) {
    const job = await deps.assessQueue.getJob(id);
    // A deduplicated job may belong to another request: only this request's own jobs are removed.
    if (!job || job.data.requestId !== request.id) continue;
    const state = await job.getState();
    if (REMOVABLE.has(state)) {
      await job.remove().then(
        () => removed++,
        () => running++, // lost the race with a worker
      );
    } else if (state === 'active') running++;
  }
  await deps.requests.markCancelled(request.id);
  return `cancelled: ${removed} queued assessment(s) removed${running ? `, ${running} already running will finish` : ''}`;
}

/** The request, when it exists, belongs to the caller and was not cancelled; else 404. */
async function ownedRequest(deps: ApiDeps, req: FastifyRequest): Promise<AssessRequest> {
  const id = (req.params as { id: string }).id;
  const request = await deps.requests.get(id);
  // Someone else's request is reported exactly like a missing one: no probing of other callers' ids.
  if (!request || !req.principal || request.owner !== ownerOf(req.principal))
    throw new ApiError(404, `no $assess request ${id} (unknown, expired after 24 h, or not yours)`);
  if (request.cancelled) throw new ApiError(404, `$assess request ${id} was cancelled at ${request.cancelled}`);
  return request;
}
