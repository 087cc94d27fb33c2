import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SandboxApp } from '../http-server.js';
import { postedBundleType } from './request-kind.js';

/**
 * Medplum runs each transaction Bundle in one serializable PostgreSQL transaction; concurrent ones
 * hit serialization conflicts, which Medplum retries itself (logging "Retrying transaction"), so a
 * burst of transactions commits one after the other, each waiting longer. Here: one transaction at
 * a time; one that arrives while another runs logs `Retrying transaction` and waits `retryDelayMs`
 * per retry until it can run. Nothing fails: the client only sees the latency.
 */
export function serializeTransactions(app: SandboxApp, logger: Logger, retryDelayMs: number): void {
  let holder: FastifyRequest | undefined;
  app.addHook('preHandler', async (req) => {
    if (postedBundleType(req) !== 'transaction') return;
    for (let attempt = 1; holder; attempt++) {
      logger.info({ attempt, delayMs: retryDelayMs }, 'Retrying transaction');
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    }
    holder = req;
  });
  const release = async (req: FastifyRequest) => {
    if (holder === req) holder = undefined;
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);
}
