import type { WithId } from '@medplum/core';
import type { Bundle, Resource, Subscription } from '@medplum/fhirtypes';
import { buildNotificationBundle, type NotificationType, type TopicEvent } from './backport-bundle.js';
import { classicRestHookRequest } from './classic-rest-hook.js';
import { RETAINED_EVENTS } from './constants.js';
import type { SandboxContext } from './context.js';
import { DeliveryQueue, type RetryPolicy } from './delivery-queue.js';
import type { ResourceChange } from './indexed-repository.js';
import { medplumMatches, medplumRestHookRequest } from './quirks/medplum-rest-hook.js';
import { matchesFilters } from './search-match.js';
import {
  type ClassicConfig,
  isTopicSubscription,
  type PayloadContent,
  parseSubscription,
  type SubscriptionConfig,
  type TopicConfig,
} from './subscription-model.js';
import { matchesTopicFilters } from './topic-filters.js';

/** How classic criteria Subscriptions are delivered: R4 as the sandbox always did, HAPI's, or Medplum's. */
export type RestHookStyle = 'standard' | 'hapi' | 'medplum';

/** What the server's Subscription support looks like (see EhrQuirks). */
export interface NotifierBehaviour {
  /** `client-set`: the server activates nothing (EhrQuirks.subscriptionActivation). */
  activation: 'standard' | 'client-set';
  /** Backport topic Subscriptions supported; false stores them as `error` (Medplum). */
  topics: boolean;
  restHook: RestHookStyle;
}

const STANDARD: NotifierBehaviour = { activation: 'standard', topics: true, restHook: 'standard' };

/** Per-Subscription runtime state; counters survive updates of the Subscription resource. */
interface SubState {
  config?: SubscriptionConfig;
  eventCount: number;
  events: TopicEvent[];
  skipNext: number;
  heartbeat?: NodeJS.Timeout;
}

/**
 * Delivers rest-hook notifications for Subscriptions stored in the sandbox: R4 classic criteria
 * Subscriptions (empty POST, or PUT/DELETE `{endpoint}/{Type}/{id}` with a payload; or Medplum's
 * bare-resource POST with `X-Medplum-*` headers and `X-Signature`) and R4 Backport topic
 * Subscriptions (handshake, heartbeats, history Bundles with a Parameters status).
 * Matching runs synchronously in the write; delivery is queued and never blocks the write.
 */
export class SubscriptionNotifier {
  private readonly subs = new Map<string, SubState>();
  /** Medplum-style criteria evaluations still running (they enqueue when they finish). */
  private readonly matching = new Set<Promise<void>>();
  private readonly queue: DeliveryQueue;
  private readonly detach: () => void;

  constructor(
    private readonly ctx: SandboxContext,
    retry: RetryPolicy,
    private readonly behaviour: NotifierBehaviour = STANDARD,
  ) {
    this.queue = new DeliveryQueue(retry, ctx.logger);
    ctx.repo.addWriteInterceptor((resource) => activateOrReject(resource, behaviour));
    this.detach = ctx.repo.onChange((change) => this.onChange(change));
  }

  /** Test hook: the next event for this Subscription consumes an event number but is not sent. */
  skipNextEventNumber(subscriptionId: string): void {
    this.stateFor(subscriptionId).skipNext++;
  }

  /** Notifications queued or in flight (and criteria evaluations that may queue one). */
  pending(): number {
    return this.queue.pending() + this.matching.size;
  }

  /** Resolves when no notification is queued or in flight, nor about to be. */
  async idle(): Promise<void> {
    while (this.matching.size > 0) await Promise.all(this.matching);
    return this.queue.idle();
  }

  /** `$status`: a query-status notification Bundle, or undefined for unknown/classic Subscriptions. */
  statusBundle(subscriptionId: string): Bundle | undefined {
    const { state, config } = this.topicState(subscriptionId) ?? {};
    if (!state || !config) return undefined;
    return this.bundle(config, state, 'query-status', [], config.content);
  }

  /** `$events`: retained events in [since, until] as a query-event Bundle. */
  eventsBundle(subscriptionId: string, since?: number, until?: number, content?: PayloadContent): Bundle | undefined {
    const { state, config } = this.topicState(subscriptionId) ?? {};
    if (!state || !config) return undefined;
    const events = state.events.filter(
      (e) => (since === undefined || e.eventNumber >= since) && (until === undefined || e.eventNumber <= until),
    );
    return this.bundle(config, state, 'query-event', events, content ?? config.content);
  }

  /** Stops heartbeats, aborts deliveries and detaches from the repository. */
  close(): void {
    this.detach();
    for (const state of this.subs.values()) clearInterval(state.heartbeat);
    this.queue.close();
  }

  private onChange(change: ResourceChange): void {
    try {
      if (change.resource.resourceType === 'Subscription') this.onSubscriptionChange(change);
      else if (!change.bulk) this.onResourceChange(change);
    } catch (err) {
      this.ctx.logger.error({ err, ref: `${change.resource.resourceType}/${change.resource.id}` }, 'notifier failed');
    }
  }

  private onSubscriptionChange(change: ResourceChange): void {
    const sub = change.resource as WithId<Subscription>;
    const state = this.stateFor(sub.id);
    clearInterval(state.heartbeat);
    state.heartbeat = undefined;
    if (change.interaction === 'delete') {
      this.subs.delete(sub.id);
      return;
    }
    const parsed = parseSubscription(sub);
    state.config = 'error' in parsed ? undefined : parsed;
    if (state.config?.kind !== 'topic') return;
    if (state.config.status === 'requested' && this.behaviour.activation === 'standard')
      this.handshake(state.config, state);
    if (state.config.status === 'active' && state.config.heartbeatSec) {
      const config = state.config;
      state.heartbeat = setInterval(() => this.heartbeat(config, state), config.heartbeatSec! * 1000).unref();
    }
  }

  private onResourceChange(change: ResourceChange): void {
    for (const state of this.subs.values()) {
      const config = state.config;
      if (config?.status !== 'active') continue;
      if (config.kind === 'classic') this.classicEvent(config, change);
      else this.topicEvent(config, state, change);
    }
  }

  private classicEvent(config: ClassicConfig, change: ResourceChange): void {
    const { resource } = change;
    if (config.criteria.resourceType !== resource.resourceType) return;
    if (this.behaviour.restHook === 'medplum') {
      const match = this.medplumEvent(config, change).finally(() => this.matching.delete(match));
      this.matching.add(match);
      return;
    }
    if (!matchesFilters(resource, config.criteria.filters)) return;
    const request = classicRestHookRequest(config, change, this.behaviour.restHook);
    if (request) this.queue.enqueue(config.id, request);
  }

  /**
   * Medplum evaluates criteria at write time and enqueues one job per match; jobs of different
   * resources do not wait for each other, so the queue key is Subscription + resource.
   */
  private async medplumEvent(config: ClassicConfig, change: ResourceChange): Promise<void> {
    const sub = config.resource as WithId<Subscription>;
    const ref = `${change.resource.resourceType}/${change.resource.id}`;
    try {
      if (!(await medplumMatches(sub, change))) return;
      this.queue.enqueue(`${config.id}|${ref}`, medplumRestHookRequest(this.ctx.repo, sub, change));
    } catch (err) {
      // Medplum's job fails the same way on every attempt and nothing is sent.
      this.ctx.logger.warn({ subscription: config.id, ref, err: (err as Error).message }, 'subscription job failed');
    }
  }

  private topicEvent(config: TopicConfig, state: SubState, change: ResourceChange): void {
    if (change.patientIds.length === 0) return; // the topic only covers patient compartments
    if (!matchesTopicFilters(change.resource, change.patientIds, config.filters)) return;
    const event: TopicEvent = {
      eventNumber: ++state.eventCount,
      timestamp: new Date().toISOString(),
      interaction: change.interaction,
      resourceType: change.resource.resourceType,
      id: change.resource.id,
      resource: change.interaction === 'delete' ? undefined : change.resource,
    };
    state.events.push(event);
    if (state.events.length > RETAINED_EVENTS) state.events.shift();
    if (state.skipNext > 0) {
      state.skipNext--;
      this.ctx.logger.info({ subscription: config.id, event: event.eventNumber }, 'notification skipped (test hook)');
      return;
    }
    this.send(
      config,
      this.bundle(config, state, 'event-notification', [event], config.content),
      `event #${event.eventNumber}`,
    );
  }

  private handshake(config: TopicConfig, state: SubState): void {
    const bundle = this.bundle(config, state, 'handshake', [], config.content);
    this.send(config, bundle, 'handshake', (ok, status) => {
      this.setStatus(config.id, ok ? 'active' : 'error', ok ? undefined : `Handshake failed (last status ${status})`);
    });
  }

  private heartbeat(config: TopicConfig, state: SubState): void {
    if (state.config !== config || this.queue.backlog(config.id) > 0) return;
    this.send(config, this.bundle(config, state, 'heartbeat', [], config.content), 'heartbeat');
  }

  private send(
    config: TopicConfig,
    bundle: Bundle,
    label: string,
    done?: (ok: boolean, status?: number) => void,
  ): void {
    const headers = { ...config.headers, 'Content-Type': config.payload ?? 'application/fhir+json' };
    const request = { method: 'POST' as const, url: config.endpoint, headers, body: JSON.stringify(bundle) };
    this.queue.enqueue(config.id, { ...request, timeoutMs: config.timeoutMs, label }, done);
  }

  private bundle(
    config: TopicConfig,
    state: SubState,
    type: NotificationType,
    events: TopicEvent[],
    content: PayloadContent,
  ): Bundle {
    const status = type === 'handshake' ? 'requested' : this.currentStatus(config);
    return buildNotificationBundle({
      baseUrl: this.ctx.baseUrl,
      subscriptionId: config.id,
      topic: config.topic,
      status,
      type,
      eventsSinceStart: state.eventCount,
      events,
      content,
    });
  }

  /** Moves a `requested` Subscription to `active`/`error` after its handshake. */
  private setStatus(id: string, status: 'active' | 'error', error?: string): void {
    const current = this.ctx.repo.peek<Subscription>('Subscription', id);
    if (current?.status !== 'requested') return; // deleted or changed meanwhile
    const next: Subscription = { ...current, status, ...(error ? { error } : {}) };
    this.ctx.repo.updateResource(next).catch((err) => this.ctx.logger.error({ err }, 'status update failed'));
  }

  private currentStatus(config: TopicConfig): NonNullable<Subscription['status']> {
    return this.ctx.repo.peek<Subscription>('Subscription', config.id)?.status ?? config.status;
  }

  private topicState(id: string): { state: SubState; config: TopicConfig } | undefined {
    const state = this.subs.get(id);
    return state?.config?.kind === 'topic' ? { state, config: state.config } : undefined;
  }

  private stateFor(id: string): SubState {
    let state = this.subs.get(id);
    if (!state) {
      state = { eventCount: 0, events: [], skipNext: 0 };
      this.subs.set(id, state);
    }
    return state;
  }
}

/**
 * Write interceptor for Subscriptions: an unusable `requested`/`active` Subscription is stored as
 * `error` (with `error` text), and (`standard` activation) a classic `requested` one becomes `active`
 * at once, because classic R4 has no handshake. Topic Subscriptions stay `requested` until their
 * handshake; with `client-set` activation every Subscription keeps the status the client stored.
 * A server without topic support stores topic Subscriptions as `error`.
 */
function activateOrReject(resource: Resource, behaviour: NotifierBehaviour): Resource {
  if (resource.resourceType !== 'Subscription') return resource;
  if (resource.status !== 'requested' && resource.status !== 'active') return resource;
  if (!behaviour.topics && isTopicSubscription(resource)) {
    const error = 'Topic-based Subscriptions are not supported by this server; use criteria such as Observation?';
    return { ...resource, status: 'error', error };
  }
  const parsed = parseSubscription(resource);
  if ('error' in parsed) return { ...resource, status: 'error', error: parsed.error };
  if (behaviour.activation === 'standard' && parsed.kind === 'classic' && resource.status === 'requested') {
    return { ...resource, status: 'active' };
  }
  return resource;
}
