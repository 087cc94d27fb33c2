import type { CapabilityStatement } from '@medplum/fhirtypes';
import { BackportUrl } from '../constants.js';
import { errorOutcome, type SandboxContext } from '../context.js';
import type { SandboxApp } from '../http-server.js';
import { fhirPath } from './request-kind.js';

/**
 * Which Subscriptions the server has:
 * - `classic-and-topic`: R4 classic criteria Subscriptions and R4 Backport topic Subscriptions (HAPI);
 * - `classic-only`: criteria Subscriptions only; no topic is advertised and a topic Subscription
 *   is stored as `error` (Medplum);
 * - `none`: no Subscription resource at all (Epic-like: clients poll `_lastUpdated`).
 */
export type SubscriptionSupport = 'classic-and-topic' | 'classic-only' | 'none';

/** Applies the CapabilityStatement edits and (for `none`) the refusal of every Subscription request. */
export function applySubscriptionSupport(app: SandboxApp, ctx: SandboxContext, support: SubscriptionSupport): void {
  if (support === 'classic-and-topic') return;
  ctx.capabilityEdits.push(support === 'none' ? withoutSubscriptions : withoutTopics);
  if (support === 'none') refuseSubscriptions(app);
}

/** Drops the Backport server claim, the topic canonicals and `$status`/`$events`. */
function withoutTopics(cs: CapabilityStatement): void {
  cs.instantiates = cs.instantiates?.filter((url) => url !== BackportUrl.serverCapabilities);
  if (!cs.instantiates?.length) delete cs.instantiates;
  for (const rest of cs.rest ?? []) {
    const sub = rest.resource?.find((r) => r.type === 'Subscription');
    if (!sub) continue;
    delete sub.extension;
    delete sub.operation;
  }
}

function withoutSubscriptions(cs: CapabilityStatement): void {
  withoutTopics(cs);
  for (const rest of cs.rest ?? []) rest.resource = rest.resource?.filter((r) => r.type !== 'Subscription');
}

/** Any request on `Subscription` (read, search, create, `$status`...) gets 404 not-supported. */
function refuseSubscriptions(app: SandboxApp): void {
  const outcome = errorOutcome(
    'not-supported',
    'Subscription is not supported by this server: poll for changes with _lastUpdated searches instead',
  );
  app.addHook('onRequest', async (req, reply) => {
    const path = fhirPath(req.url);
    if (path === 'Subscription' || path?.startsWith('Subscription/')) {
      return reply.code(404).type('application/fhir+json').send(outcome);
    }
  });
}
