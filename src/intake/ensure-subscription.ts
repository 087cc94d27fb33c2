import type { Subscription } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { type Activation, confirmActivation } from './subscription-activation.js';
import { type SubscriptionKind, subscriptionResource } from './subscription-request.js';

/** What ensuring one Subscription did. */
export type EnsureAction = 'created' | 'reactivated' | 'activated' | 'unchanged';

export interface EnsureResult {
  subscription: Subscription;
  action: EnsureAction;
  /** Who activated it, when it is active now (undefined: it is not active). */
  activatedBy?: Activation;
}

export interface EnsureOptions {
  /** What this EHR is known to need (ActivationMemory); undefined: find out. */
  activation?: Activation;
  /** How long to give the EHR to activate a `requested` Subscription (ms). */
  activationWaitMs?: number;
}

/**
 * Creates our Subscription on the EHR (per the spec, `requested`), or repairs the existing one (same
 * endpoint and criteria), then confirms it is `active` (see {@link confirmActivation}). An `active`
 * one is never written to, so a restart changes nothing and a working Subscription is never switched
 * off; one the EHR set to `error`/`off` is asked to deliver again: `requested` where the EHR activates
 * (and handshakes) itself, `active` directly where it leaves that to clients (Medplum).
 */
export async function ensureSubscription(
  client: FhirClient,
  endpoint: string,
  secret: string | undefined,
  spec: SubscriptionKind,
  opts: EnsureOptions = {},
): Promise<EnsureResult> {
  const wanted = subscriptionResource(endpoint, secret, spec);
  const existing = (await client.searchAll<Subscription>('Subscription', { url: endpoint })).find(
    (s) => s.criteria === wanted.criteria && s.channel?.endpoint === endpoint,
  );
  if (existing?.status === 'active') return { subscription: existing, action: 'unchanged', activatedBy: undefined };
  let subscription: Subscription;
  let action: EnsureAction;
  if (!existing) {
    subscription = await client.create(wanted);
    action = 'created';
  } else if (existing.status === 'error' || existing.status === 'off') {
    const status = opts.activation === 'client' ? 'active' : 'requested';
    subscription = await client.update({ ...wanted, id: existing.id!, status });
    action = 'reactivated';
  } else {
    subscription = existing; // left `requested` (e.g. by a server that never activates it)
    action = 'activated';
  }
  const confirmed = await confirmActivation(client, subscription, opts.activation, opts.activationWaitMs);
  if (action === 'activated' && !confirmed.activatedBy) action = 'unchanged';
  return { subscription: confirmed.subscription, action, activatedBy: confirmed.activatedBy };
}
