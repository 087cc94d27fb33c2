import type { Redis } from 'ioredis';
import type { Source } from '../config/sources.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import { advertisesTopic } from './ehr-capabilities.js';
import { ensureSubscription } from './ensure-subscription.js';
import { redisLockKey, withRedisLock } from './redis-lock.js';
import { PATIENT_DATA_TOPIC, type SubscriptionKind } from './subscription-request.js';

/** How long one replica may hold the subscription lock (ms): enough for a few EHR round trips. */
const LOCK_TTL_MS = 30_000;

export interface EnsureSubscriptionsInput {
  client: FhirClient;
  source: Source;
  /** `PUBLIC_URL/notify`. */
  endpoint: string;
  /** Resource types the models read: one classic Subscription each. */
  watchedTypes: string[];
  redis: Redis;
  prefix: string;
}

export interface EnsuredSubscription {
  id?: string;
  criteria?: string;
  action: 'created' | 'reactivated' | 'unchanged';
}

/**
 * The Subscription(s) a source should hold for us, created or repaired at start-up. `auto` picks the R4
 * Backport topic when the EHR's CapabilityStatement advertises it, else classic criteria: one
 * `{Type}?` Subscription per watched type (classic criteria name one type each). Idempotent across
 * restarts (found by endpoint and criteria) and replicas (a Redis lock serialises them).
 */
export async function ensureSourceSubscriptions(
  input: EnsureSubscriptionsInput,
): Promise<{ kind: 'backport' | 'classic'; subscriptions: EnsuredSubscription[] }> {
  const { client, source } = input;
  const kind = await chooseKind(client, source.subscription.kind);
  const specs = subscriptionSpecs(kind, source, input.watchedTypes);
  const lock = redisLockKey(input.prefix, `subscriptions:${source.name}`);
  const subscriptions = await withRedisLock(input.redis, lock, LOCK_TTL_MS, async () => {
    const done: EnsuredSubscription[] = [];
    for (const spec of specs) {
      const r = await ensureSubscription(client, input.endpoint, source.notify.bearerSecrets[0], spec);
      done.push({ id: r.subscription.id, criteria: r.subscription.criteria, action: r.action });
    }
    return done;
  });
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
