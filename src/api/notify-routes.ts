import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FHIR_ID, RESOURCE_TYPE } from '../fhir/fhir-id.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { authenticateSender } from '../intake/authenticate-sender.js';
import { NotificationError } from '../intake/notification.js';
import { parseNotification } from '../intake/parse-notification.js';
import { toChangeEvents } from '../intake/validate-events.js';
import { addChangeEvents, type EventsQueue } from '../jobs/events-queue.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { ledgerInRequest, trackSubscription } from '../jobs/track-subscription.js';
import { countEventsReceived, observeStage } from '../observability/metrics.js';
import { withTimeout } from '../util/with-timeout.js';
import { outcome } from './operation-outcome.js';

/** How long intake waits for Redis before refusing a notification (ms). */
const ENQUEUE_TIMEOUT_MS = 5_000;

export interface NotifyDeps {
  sources: SourceRegistry;
  eventsQueue: EventsQueue;
  redis: RedisClient;
  keyPrefix: string;
  /** Wait before recovering a gap in a subscription's event numbers (GAP_GRACE_MS). */
  gapGraceMs?: number;
}

const TYPE_ID = { type: 'string', pattern: RESOURCE_TYPE.source } as const;
const ID = { type: 'string', pattern: FHIR_ID.source } as const;
const pathSchema = { params: { type: 'object', properties: { type: TYPE_ID, id: ID }, required: ['type', 'id'] } };

/**
 * Notification intake. Answers 2xx only after every event is stored in Redis (event numbers travel in
 * the stored events; handshakes and heartbeats are recorded in the subscription's ledger); does no FHIR
 * calls and no model work.
 */
export async function notifyRoutes(app: FastifyInstance, deps: NotifyDeps): Promise<void> {
  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    const source = authenticateSender(
      req.headers,
      (req as unknown as { rawBody?: string }).rawBody ?? '',
      deps.sources.all().map((s) => s.source),
    );
    const params = req.params as { type?: string; id?: string };
    const parsed = parseNotification(
      {
        method: req.method as 'POST' | 'PUT' | 'DELETE',
        path: params.type && params.id ? { resourceType: params.type, id: params.id } : undefined,
        headers: req.headers as Record<string, string | undefined>,
        body: req.body,
      },
      deps.sources.client(source.name).guard,
    );
    const subscription = parsed.subscriptionId;
    const events = toChangeEvents(source.name, parsed.events, subscription);
    const track = subscription && ledgerInRequest(parsed, events);
    // Usually one Redis call (the add); with the ledger, both in flight. BullMQ would wait for Redis to
    // come back, an EHR must not: any Redis failure or delay is a 503, so the EHR retries later.
    const stored: Promise<unknown> = track
      ? Promise.all([
          addChangeEvents(deps.eventsQueue, events),
          trackSubscription(deps, source.name, subscription, parsed),
        ])
      : addChangeEvents(deps.eventsQueue, events);
    await withTimeout(
      stored.catch(() => Promise.reject(redisDown())),
      ENQUEUE_TIMEOUT_MS,
      redisDown,
    );
    countEventsReceived(source.name, parsed.variant, events.length);
    const ms = performance.now() - t0;
    observeStage('intake', ms);
    // The access log line of /notify (fastify's own request lines are off for it: see app.ts).
    req.log.info(
      {
        variant: parsed.variant,
        type: parsed.type,
        events: events.length,
        source: source.name,
        subscription,
        ms: Math.round(ms * 10) / 10,
      },
      'notification accepted',
    );
    return reply
      .code(200)
      .type('application/fhir+json')
      .send(acceptedBody(`accepted ${parsed.type} with ${events.length} event(s)`));
  };
  app.post('/notify', handle);
  app.put('/notify/:type/:id', { schema: pathSchema }, handle);
  app.delete('/notify/:type/:id', { schema: pathSchema }, handle);
}

/** The 200 answers' bodies, serialised once per distinct text (a handful: type x event count). */
const acceptedBodies = new Map<string, string>();

function acceptedBody(text: string): string {
  let body = acceptedBodies.get(text);
  if (!body) {
    body = JSON.stringify(outcome('information', 'informational', text));
    if (acceptedBodies.size < 64) acceptedBodies.set(text, body);
  }
  return body;
}

const redisDown = () =>
  new NotificationError(
    503,
    'event store (Redis) unavailable; the notification was not accepted, please retry',
    'transient',
  );
