import { type DefaultJobOptions, Queue } from 'bullmq';
import { queueTelemetry } from '../observability/tracing.js';
import type { RedisClient } from './redis-connection.js';

/**
 * A BullMQ queue on a shared producer connection. Its `error` events are absorbed: a connection error
 * also rejects the call that hit it (and intake answers 503), so the event itself adds nothing.
 */
export function createQueue<Data, Result = unknown>(
  name: string,
  connection: RedisClient,
  prefix: string,
  defaultJobOptions: DefaultJobOptions,
): Queue<Data, Result> {
  const queue = new Queue<Data, Result>(name, { connection, prefix, defaultJobOptions, telemetry: queueTelemetry() });
  queue.on('error', () => {});
  return queue;
}
