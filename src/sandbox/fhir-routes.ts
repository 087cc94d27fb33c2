import { allOk, badRequest, notFound } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { buildCapabilityStatement } from './capability-statement.js';
import { operationParams, type SandboxContext } from './context.js';
import { everythingHandler } from './everything.js';
import { type EverythingSupport, everythingRoute } from './quirks/everything-support.js';
import type { PayloadContent } from './subscription-model.js';
import type { SubscriptionNotifier } from './subscription-notifier.js';

const CONTENT_CODES = new Set(['empty', 'id-only', 'full-resource']);

/**
 * Adds the routes MemoryRepository's router lacks: `metadata`, `Patient/{id}/$everything` and the
 * Backport IG's `Subscription/{id}/$status` and `$events`. Literal path segments outrank the
 * router's `:resourceType/:id` patterns, so these win over the generic read/search routes.
 * The CapabilityStatement is built on the first `metadata` read, after the quirks' edits.
 */
export function addSandboxRoutes(
  router: FhirRouter,
  ctx: SandboxContext,
  notifier: SubscriptionNotifier,
  everythingSupport: EverythingSupport = 'supported',
): void {
  const startedAt = new Date().toISOString();
  let capabilities: CapabilityStatement | undefined;
  router.add('GET', 'metadata', async () => {
    if (!capabilities) {
      capabilities = buildCapabilityStatement(ctx.baseUrl, startedAt);
      for (const edit of ctx.capabilityEdits) edit(capabilities);
    }
    return [allOk, capabilities];
  });
  const everything = everythingRoute(everythingSupport, everythingHandler(ctx));
  router.add('GET', 'Patient/:id/$everything', everything);
  router.add('POST', 'Patient/:id/$everything', everything);
  const status = async (req: FhirRequest): Promise<FhirResponse> => statusOperation(req, notifier);
  router.add('GET', 'Subscription/:id/$status', status);
  router.add('POST', 'Subscription/:id/$status', status);
  const events = async (req: FhirRequest): Promise<FhirResponse> => eventsOperation(req, notifier);
  router.add('GET', 'Subscription/:id/$events', events);
  router.add('POST', 'Subscription/:id/$events', events);
}

function statusOperation(req: FhirRequest, notifier: SubscriptionNotifier): FhirResponse {
  const bundle = notifier.statusBundle(req.params.id);
  return bundle ? [allOk, bundle] : [notFound];
}

/** `$events?eventsSinceNumber=&eventsUntilNumber=&content=` over the retained events. */
function eventsOperation(req: FhirRequest, notifier: SubscriptionNotifier): FhirResponse {
  const params = operationParams(req);
  const since = optionalInt(params.get('eventsSinceNumber'));
  const until = optionalInt(params.get('eventsUntilNumber'));
  const content = params.get('content') ?? undefined;
  if (Number.isNaN(since) || Number.isNaN(until))
    return [badRequest('eventsSinceNumber/eventsUntilNumber must be integers')];
  if (content && !CONTENT_CODES.has(content)) return [badRequest(`Unsupported content: ${content}`)];
  const bundle = notifier.eventsBundle(req.params.id, since, until, content as PayloadContent | undefined);
  return bundle ? [allOk, bundle] : [notFound];
}

function optionalInt(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined;
  return /^\d+$/.test(raw) ? Number.parseInt(raw, 10) : Number.NaN;
}
