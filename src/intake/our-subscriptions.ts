import type { Subscription } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { SubscriptionState } from './subscription-states.js';

/** The Subscriptions on the EHR that notify our endpoint (`Subscription?url=` plus an exact endpoint check). */
export async function listOurSubscriptions(client: FhirClient, endpoint: string): Promise<Subscription[]> {
  const found = await client.searchAll<Subscription>('Subscription', { url: endpoint });
  return found.filter((s) => s.channel?.endpoint === endpoint);
}

export function stateOf(s: Subscription): SubscriptionState {
  return { id: s.id, criteria: s.criteria, status: s.status, error: s.error };
}
