import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the chat-completions protocol (streaming off), scripted per test: each request
 * takes the next handler from the queue (the last one repeats). It records every request it receives.
 */

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** ms since the server started (server clock), to check waits between attempts. */
  at: number;
}

export type Handler = (req: SeenRequest, res: ServerResponse) => void;

export interface FakeChatServer {
  url: string;
  requests: SeenRequest[];
  /** Handlers for the next requests, in order. */
  script(...handlers: Handler[]): void;
  close(): Promise<void>;
}

export async function startFakeChatServer(): Promise<FakeChatServer> {
  const started = performance.now();
  const requests: SeenRequest[] = [];
  let handlers: Handler[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : {},
        at: performance.now() - started,
      };
      requests.push(seen);
      const handler = handlers.length > 1 ? handlers.shift()! : handlers[0];
      if (!handler) return json(500, { error: { message: 'no handler scripted' } })(seen, res);
      if (handler === hang) hanging.push(res);
      handler(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...h) => {
      handlers = h;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers with a JSON body and status. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

/** Never answers (until the server closes): for timeouts. */
export const hang: Handler = () => {};

/** A chat completion whose message content is `content` (a string, or an object serialised as JSON). */
export function completion(
  content: unknown,
  opts: { finishReason?: string; refusal?: string; usage?: { prompt_tokens: number; completion_tokens: number } } = {},
): Handler {
  const usage = opts.usage ?? { prompt_tokens: 900, completion_tokens: 150 };
  return json(200, {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'test-model',
    choices: [
      {
        index: 0,
        finish_reason: opts.finishReason ?? 'stop',
        message: {
          role: 'assistant',
          content: typeof content === 'string' || content === null ? content : JSON.stringify(content),
          refusal: opts.refusal ?? null,
        },
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  });
}
