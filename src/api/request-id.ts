import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A caller's `X-Request-Id` is reused only when it is a plain token: no free text (PHI) in our logs. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Request id for logs and the `X-Request-Id` response header: the caller's (when safe) or a fresh UUID. */
export function genReqId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

/** onSend hook: echoes the request id so callers can quote it when reporting a problem. */
export async function echoRequestId(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  void reply.header('X-Request-Id', req.id);
}
