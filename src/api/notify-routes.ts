import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { SourceRegistry } from '../fhir/source-client.js';
import { authenticateSender } from '../intake/authenticate-sender.js';
import type { ChangeEvent } from '../intake/change-event.js';
import { NotificationError } from '../intake/notification.js';
import { parseNotification } from '../intake/parse-notification.js';
import { type EventsQueue, enqueueChangeEvents } from '../jobs/events-queue.js';
import { withTimeout } from '../util/with-timeout.js';
import { outcome } from './operation-outcome.js';

/** How long intake waits for Redis before refusing a notification (ms). */
const ENQUEUE_TIMEOUT_MS = 5_000;

export interface NotifyDeps {
  sources: SourceRegistry;
  eventsQueue: EventsQueue;
  redis: Redis;
  keyPrefix: string;
}

const TYPE_ID = { type: 'string', pattern: '^[A-Z][A-Za-z]{1,63}$' } as const;
const ID = { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } as const;
const pathSchema = { params: { type: 'object', properties: { type: TYPE_ID, id: ID }, required: ['type', 'id'] } };

/**
 * Notification intake. Answers 2xx only after every event is stored in Redis; does no FHIR calls
 * and no model work in the request.
 */
export async function notifyRoutes(app: FastifyInstance, deps: NotifyDeps): Promise<void> {
  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const source = authenticateSender(
      req.headers,
      (req as unknown as { rawBody?: string }).rawBody ?? '',
      deps.sources.all().map((s) => s.source),
    );
    const guard = deps.sources.client(source.name).guard;
    const params = req.params as { type?: string; id?: string };
    const parsed = parseNotification(
      {
        method: req.method as 'POST' | 'PUT' | 'DELETE',
        path: params.type && params.id ? { resourceType: params.type, id: params.id } : undefined,
        headers: req.headers as Record<string, string | undefined>,
        body: req.body,
      },
      guard,
    );
    if (parsed.subscription) {
      await withTimeout(
        deps.redis.hset(
          `${deps.keyPrefix}:subscription-seen:${source.name}`,
          parsed.subscription,
          new Date().toISOString(),
        ),
        ENQUEUE_TIMEOUT_MS,
        redisDown,
      );
    }
    const events: ChangeEvent[] = parsed.events.map((e) => ({ ...e, source: source.name }));
    // BullMQ waits for Redis to come back; an EHR must not: answer 503 so it retries later.
    await withTimeout(enqueueChangeEvents(deps.eventsQueue, events), ENQUEUE_TIMEOUT_MS, redisDown);
    req.log.info({ variant: parsed.variant, type: parsed.type, events: events.length }, 'notification accepted');
    return reply
      .code(200)
      .type('application/fhir+json')
      .send(outcome('information', 'informational', `accepted ${parsed.type} with ${events.length} event(s)`));
  };
  app.post('/notify', handle);
  app.put('/notify/:type/:id', { schema: pathSchema }, handle);
  app.delete('/notify/:type/:id', { schema: pathSchema }, handle);
}

const redisDown = () =>
  new NotificationError(
    503,
    'event store (Redis) unavailable; the notification was not accepted, please retry',
    'transient',
  );
