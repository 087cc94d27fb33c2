import type { RedisClient } from '../jobs/redis-connection.js';

/** One of our Subscriptions as the EHR last reported it. */
export interface SubscriptionState {
  id?: string;
  criteria?: string;
  status?: string;
  error?: string;
}

export interface SourceSubscriptionStates {
  /** When the EHR was last asked (ISO instant). */
  checkedAt: string;
  subscriptions: SubscriptionState[];
}

/**
 * The last-known state of each source's managed Subscriptions, in Redis so that every process sees
 * what start-up, the watchdog or `fhir-assess subscriptions --repair` last read from the EHR; `/readyz`
 * (probed often) reads it instead of asking the EHR. Ids, criteria and statuses only: no PHI.
 */
export class SubscriptionStates {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = `${prefix}:subscription-states`;
  }

  async save(source: string, subscriptions: SubscriptionState[], checkedAt = new Date()): Promise<void> {
    const value: SourceSubscriptionStates = { checkedAt: checkedAt.toISOString(), subscriptions };
    await this.redis.hset(this.key, source, JSON.stringify(value));
  }

  async get(source: string): Promise<SourceSubscriptionStates | undefined> {
    const raw = await this.redis.hget(this.key, source);
    return raw ? (JSON.parse(raw) as SourceSubscriptionStates) : undefined;
  }
}

/** A managed Subscription that does not deliver: not active, or not there at all. */
export function notDelivering(states: SourceSubscriptionStates | undefined): boolean {
  return !states || states.subscriptions.length === 0 || states.subscriptions.some((s) => s.status !== 'active');
}
