import type { Subscription } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';

/**
 * Who turns a `requested` Subscription into an `active` one on this EHR:
 * - `ehr`: the server does (HAPI activates classic Subscriptions itself; Backport servers after a
 *   successful handshake);
 * - `client`: nobody but the client (Medplum only delivers to `active` Subscriptions and never
 *   activates a `requested` one, but accepts a client-set `active`).
 */
export type Activation = 'ehr' | 'client';

/** How long to wait for the EHR to activate a `requested` Subscription before activating it ourselves (ms). */
export const ACTIVATION_WAIT_MS = 5_000;
const POLL_MS = 200;

/** What is remembered per source, so a restart or a repair does not wait again (Redis, no PHI). */
export class ActivationMemory {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(source: string): string {
    return `${this.prefix}:subscription-activation:${source}`;
  }

  async get(source: string): Promise<Activation | undefined> {
    const v = await this.redis.get(this.key(source));
    return v === 'ehr' || v === 'client' ? v : undefined;
  }

  async set(source: string, activation: Activation): Promise<void> {
    await this.redis.set(this.key(source), activation);
  }
}

export interface Confirmed {
  subscription: Subscription;
  /** Who activated it, when it is active now; undefined when it is not active. */
  activatedBy?: Activation;
}

/**
 * Makes sure a Subscription we created or repaired delivers: a `requested` one is given up to
 * `waitMs` to be activated by the EHR (its own activation, or a handshake reaching us); if it is
 * still `requested` then (or the EHR is known to leave activation to clients), we set it `active`
 * and read it back. Never touches one that is `active` already, never forces `active` over an
 * `error`, and never activates a topic-based one itself (a handshake that fails must be looked at,
 * not hidden).
 */
export async function confirmActivation(
  client: FhirClient,
  subscription: Subscription,
  known: Activation | undefined,
  waitMs = ACTIVATION_WAIT_MS,
): Promise<Confirmed> {
  let current = subscription;
  // A topic-based Subscription is activated by its handshake, never by us: forcing `active` would
  // hide a handshake that cannot reach us.
  const handshake = isTopicBased(current);
  if (current.status === 'requested' && (handshake || known !== 'client')) {
    current = await waitWhileRequested(client, current, waitMs);
  }
  if (current.status === 'active') return { subscription: current, activatedBy: 'ehr' };
  if (current.status !== 'requested' || handshake) return { subscription: current };
  await client.update({ ...current, id: current.id!, status: 'active' });
  const readBack = await client.read<Subscription>('Subscription', current.id!);
  return { subscription: readBack, activatedBy: readBack.status === 'active' ? 'client' : undefined };
}

/** R4 Backport topic Subscriptions name a topic canonical URL as their criteria. */
function isTopicBased(sub: Subscription): boolean {
  return /^https?:\/\//.test(sub.criteria ?? '');
}

async function waitWhileRequested(client: FhirClient, sub: Subscription, waitMs: number): Promise<Subscription> {
  const deadline = Date.now() + waitMs;
  let current = sub;
  while (current.status === 'requested' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    current = await client.read<Subscription>('Subscription', sub.id!);
  }
  return current;
}
