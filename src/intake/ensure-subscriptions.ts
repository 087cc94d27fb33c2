import type { Source } from '../config/sources.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { advertisesTopic } from './ehr-capabilities.js';
import { type EnsureAction, ensureSubscription } from './ensure-subscription.js';
import { redisLockKey, withRedisLock } from './redis-lock.js';
import { type Activation, ActivationMemory } from './subscription-activation.js';
import { PATIENT_DATA_TOPIC, type SubscriptionKind } from './subscription-request.js';
import { SubscriptionStates } from './subscription-states.js';

/** How long one replica may hold the subscription lock (ms): a few EHR round trips and one activation wait. */
const LOCK_TTL_MS = 30_000;

export interface EnsureSubscriptionsInput {
  client: FhirClient;
  source: Source;
  /** `PUBLIC_URL/notify`. */
  endpoint: string;
  /** Resource types the models read: one classic Subscription each. */
  watchedTypes: string[];
  redis: RedisClient;
  prefix: string;
  /** How long to give the EHR to activate a `requested` Subscription (ms); default ACTIVATION_WAIT_MS. */
  activationWaitMs?: number;
}

export interface EnsuredSubscription {
  id?: string;
  criteria?: string;
  action: EnsureAction;
  /** The status the EHR reports after we are done. */
  status?: string;
  /** The EHR's `Subscription.error`, when it gives one. */
  error?: string;
  /** Who activated it, when it is active now. */
  activatedBy?: Activation;
}

/**
 * The Subscription(s) a source should hold for us, created or repaired, each confirmed active. `auto`
 * picks the R4 Backport topic when the EHR's CapabilityStatement advertises it, else classic criteria:
 * one `{Type}?` Subscription per watched type (classic criteria name one type each). Idempotent across
 * restarts (found by endpoint and criteria) and replicas (a Redis lock serialises them). What the EHR
 * needs to activate a Subscription is learned once and remembered per source; the states the EHR
 * reports are kept for `/readyz` and `fhir-assess subscriptions`.
 */
export async function ensureSourceSubscriptions(
  input: EnsureSubscriptionsInput,
): Promise<{ kind: 'backport' | 'classic'; subscriptions: EnsuredSubscription[] }> {
  const { client, source } = input;
  const kind = await chooseKind(client, source.subscription.kind);
  const specs = subscriptionSpecs(kind, source, input.watchedTypes);
  const lock = redisLockKey(input.prefix, `subscriptions:${source.name}`);
  const memory = new ActivationMemory(input.redis, input.prefix);
  const subscriptions = await withRedisLock(input.redis, lock, LOCK_TTL_MS, async () => {
    const done: EnsuredSubscription[] = [];
    let activation = await memory.get(source.name);
    for (const spec of specs) {
      const r = await ensureSubscription(client, input.endpoint, source.notify.bearerSecrets[0], spec, {
        activation,
        activationWaitMs: input.activationWaitMs,
      });
      if (r.activatedBy && r.activatedBy !== activation) {
        activation = r.activatedBy;
        await memory.set(source.name, activation);
      }
      const { id, criteria, status, error } = r.subscription;
      done.push({ id, criteria, action: r.action, status, error, activatedBy: r.activatedBy });
    }
    return done;
  });
  await new SubscriptionStates(input.redis, input.prefix).save(
    source.name,
    subscriptions.map(({ id, criteria, status, error }) => ({ id, criteria, status, error })),
  );
  return { kind, subscriptions };
}

/** `auto`: Backport when the EHR advertises our topic (capabilitystatement-subscriptiontopic-canonical). */
export async function chooseKind(
  client: FhirClient,
  configured: Source['subscription']['kind'],
): Promise<'backport' | 'classic'> {
  if (configured !== 'auto') return configured;
  return (await advertisesTopic(client, PATIENT_DATA_TOPIC)) ? 'backport' : 'classic';
}

/** The Subscriptions wanted for a kind: one topic Subscription, or one classic per watched type. */
export function subscriptionSpecs(
  kind: 'backport' | 'classic',
  source: Source,
  watchedTypes: string[],
): SubscriptionKind[] {
  const { content, heartbeatSeconds } = source.subscription;
  if (kind === 'backport') return [{ kind: 'backport', content, heartbeatSeconds }];
  // Classic R4 has no id-only: the payload is the resource (PUT {endpoint}/{Type}/{id}) or nothing (a ping).
  const payload = content === 'empty' ? 'empty' : 'full-resource';
  const hmacSecret = source.notify.hmacSecrets[0];
  return [...new Set(watchedTypes)].sort().map((t) => ({ kind: 'classic', criteria: `${t}?`, payload, hmacSecret }));
}
