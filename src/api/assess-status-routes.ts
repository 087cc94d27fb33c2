import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AssessRequest } from '../jobs/assess-requests.js';
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
 * 200 with a batch-response Bundle when done, 4xx/5xx with an OperationOutcome when the (single
 * patient) request failed; `DELETE` cancels what has not started yet.
 */
export async function assessStatusRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const preHandler = requireAuth(deps.auth, SCOPES.assess);
  app.get('/fhir/$assess-status/:id', { preHandler, schema: statusParams }, async (req, reply) => {
    const request = await ownedRequest(deps, req);
    const outcomes = await jobOutcomes(deps.assessQueue, await deps.requests.jobIds(request.id));
    const t = tally(outcomes);
    const done = t.completed + t.failed + t.missing;
    if (t.pending > 0) {
      const progress = `${done} of ${request.total} patients assessed${t.failed ? ` (${t.failed} failed)` : ''}`;
      reply.header('X-Progress', progress).header('Retry-After', String(RETRY_AFTER_S));
      return sendFhir(reply, 202, outcome('information', 'informational', progress));
    }
    const only = outcomes[0];
    if (request.level === 'patient' && only?.state === 'failed') {
      const status = only.failureStatus ?? 500;
      return sendFhir(
        reply,
        status,
        outcome(
          'error',
          status >= 500 ? 'exception' : 'processing',
          `${request.target}: ${only.failedReason ?? 'failed'}`,
        ),
      );
    }
    if (request.total > 0 && t.failed === request.total)
      return sendFhir(
        reply,
        500,
        outcome('error', 'exception', `every assessment of ${request.target} failed, e.g. ${only?.failedReason ?? ''}`),
      );
    const { client } = pickSource(deps, request.source);
    reply.header('Expires', new Date(Date.parse(request.created) + 24 * 3600_000).toUTCString());
    return sendFhir(reply, 200, await statusResultBundle(client, outcomes));
  });

  app.delete('/fhir/$assess-status/:id', { preHandler, schema: statusParams }, async (req, reply) => {
    const request = await ownedRequest(deps, req);
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
          () => running++,
        ); // lost the race with a worker
      } else if (state === 'active') running++;
    }
    await deps.requests.markCancelled(request.id);
    const message = `cancelled: ${removed} queued assessment(s) removed${running ? `, ${running} already running will finish` : ''}`;
    return sendFhir(reply, 202, outcome('information', 'informational', message));
  });
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
