import { Transform } from 'node:stream';
import { errorOutcome } from '../context.js';
import type { SandboxApp } from '../http-server.js';

/** A request-body limit and how the server refuses a larger body. */
export interface RequestSizeLimit {
  /** Largest accepted body, bytes. */
  bytes: number;
  /** Status of the refusal. */
  status: number;
  /** `OperationOutcome.issue[0].details.text` of the refusal. */
  text: string;
}

/**
 * Medplum parses JSON bodies with express `json({ limit: maxJsonSize })` (default `1mb` = 1 MiB) and
 * its error handler answers `entity.too.large` with `badRequest('File too large')`: a **400**
 * OperationOutcome, not a 413 (packages/server/src/app.ts).
 */
export const MEDPLUM_REQUEST_LIMIT: RequestSizeLimit = { bytes: 1024 * 1024, status: 400, text: 'File too large' };

/**
 * Refuses request bodies over the limit before they are parsed: at once when `Content-Length` says
 * so, otherwise as soon as a chunked body passes it.
 */
export function limitRequestSize(app: SandboxApp, limit: RequestSizeLimit): void {
  // A 400 gets the server's badRequest shape (issue code `invalid`, as Medplum's); others `too-long`.
  const outcome = limit.status === 400 ? undefined : errorOutcome('too-long', limit.text);
  const tooLarge = () => Object.assign(new Error(limit.text), { statusCode: limit.status, outcome });
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (Number(req.headers['content-length'] ?? 0) > limit.bytes) throw tooLarge();
    let seen = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen > limit.bytes) callback(tooLarge());
        else callback(null, chunk);
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    return payload.pipe(counted);
  });
}
