import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SandboxApp } from '../http-server.js';
import { postedBundleType } from './request-kind.js';

/** Options of {@link serializeTransactions}. */
export interface SerializedTransactions {
  /** Wait between two tries of a transaction that found another one running, ms. */
  retryDelayMs: number;
  /** Shortest time a transaction holds the lock, ms (the commit latency of a real database). */
  holdMs?: number;
}

/**
 * Medplum runs each transaction Bundle in one serializable PostgreSQL transaction; concurrent ones
 * hit serialization conflicts, which Medplum retries itself (logging "Retrying transaction"), so a
 * burst of transactions commits one after the other, each waiting longer. Here: one transaction at
 * a time, each taking at least `holdMs` (an in-memory transaction is otherwise over before another
 * arrives, and nothing would ever conflict); one that arrives while another runs logs `Retrying
 * transaction` and waits `retryDelayMs` per retry until it can run. Nothing fails: the client
 * only sees the latency.
 */
export function serializeTransactions(app: SandboxApp, logger: Logger, opts: SerializedTransactions): void {
  const { retryDelayMs, holdMs = 0 } = opts;
  let holder: FastifyRequest | undefined;
  app.addHook('preHandler', async (req) => {
    if (postedBundleType(req) !== 'transaction') return;
    for (let attempt = 1; holder; attempt++) {
      logger.info({ attempt, delayMs: retryDelayMs }, 'Retrying transaction');
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    }
    holder = req;
    if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
  });
  const release = async (req: FastifyRequest) => {
    if (holder === req) holder = undefined;
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);
}
