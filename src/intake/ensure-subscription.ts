import type { Subscription } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { type SubscriptionKind, subscriptionResource } from './subscription-request.js';

/**
 * Creates our Subscription on the EHR, or repairs the existing one (same endpoint and criteria):
 * one the EHR set to `error`/`off` is asked to become active again. Idempotent across restarts.
 */
export async function ensureSubscription(
  client: FhirClient,
  endpoint: string,
  secret: string | undefined,
  spec: SubscriptionKind,
): Promise<{ subscription: Subscription; action: 'created' | 'reactivated' | 'unchanged' }> {
  const wanted = subscriptionResource(endpoint, secret, spec);
  const existing = (await client.searchAll<Subscription>('Subscription', { url: endpoint })).find(
    (s) => s.criteria === wanted.criteria && s.channel?.endpoint === endpoint,
  );
  if (!existing) return { subscription: await client.create(wanted), action: 'created' };
  if (existing.status === 'error' || existing.status === 'off') {
    const repaired = await client.update({ ...wanted, id: existing.id!, status: 'requested' });
    return { subscription: repaired, action: 'reactivated' };
  }
  return { subscription: existing, action: 'unchanged' };
}
