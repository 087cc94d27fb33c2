import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request captured by the test receiver. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP endpoint that records every request it gets (the notification target in tests). */
export interface Receiver {
  url: string;
  requests: Received[];
  /** Status codes to answer with, in order; once exhausted every request gets 200. */
  respondWith(...statuses: number[]): void;
  /**
   * Holds the next request's answer until `release(status)`: `arrived` resolves when it came in.
   * Lets a test change the EHR between a delivery attempt and its retry, without timing.
   */
  holdNext(): { arrived: Promise<Received>; release: (status: number) => void };
  /** Polls until `predicate` holds (bounded); returns the captured requests. */
  waitFor(predicate: (requests: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export async function startReceiver(path = '/notify'): Promise<Receiver> {
  const requests: Received[] = [];
  const statuses: number[] = [];
  const holds: { arrived: (r: Received) => void; status: Promise<number> }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const received: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(received);
      let status = statuses.shift() ?? 200;
      const hold = holds.shift();
      if (hold) {
        hold.arrived(received);
        status = await hold.status;
      }
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    respondWith: (...codes) => statuses.push(...codes),
    holdNext: () => {
      let arrived!: (r: Received) => void;
      let release!: (status: number) => void;
      const arrivedP = new Promise<Received>((resolve) => {
        arrived = resolve;
      });
      const status = new Promise<number>((resolve) => {
        release = resolve;
      });
      holds.push({ arrived, status });
      return { arrived: arrivedP, release };
    },
    waitFor: (predicate, timeoutMs = 5000) => waitFor(() => (predicate(requests) ? requests : undefined), timeoutMs),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `probe` every 20 ms until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
