import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, decodeProtectedHeader, type JWTPayload, jwtVerify, type KeyObject } from 'jose';

export interface TokenServerOptions {
  clientId: string;
  /** For private_key_jwt: the registered public key, its kid and algorithm. */
  publicKey?: CryptoKey | KeyObject;
  keyId?: string;
  alg?: 'RS384' | 'ES384';
  /** For client_secret_post. */
  clientSecret?: string;
  /** Lifetime of issued tokens, s. */
  expiresIn: number;
}

/**
 * A local OAuth token endpoint that behaves like an EHR's: verifies the client assertion's signature
 * with the registered public key (jose jwtVerify), its header (kid, typ) and claims (iss = sub =
 * client id, aud = this endpoint, exp at most 5 minutes ahead, jti never seen before), or the client
 * secret, and issues short-lived opaque tokens.
 */
export async function startTokenServer(opts: TokenServerOptions) {
  const tokens = new Map<string, number>(); // token -> expiry, ms
  const jtis = new Set<string>();
  const state = { requests: 0, verifiedAssertions: [] as JWTPayload[], rejections: [] as string[] };
  let url = '';
  const server = createServer((req, res) => {
    void (async () => {
      state.requests++;
      const form = new URLSearchParams(await readBody(req));
      const problem = await check(form);
      if (problem) {
        state.rejections.push(problem);
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: 'invalid_client', error_description: problem }));
      }
      const token = randomUUID();
      tokens.set(token, Date.now() + opts.expiresIn * 1000);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: token,
          token_type: 'bearer',
          expires_in: opts.expiresIn,
          scope: form.get('scope'),
        }),
      );
    })();
  });

  async function check(form: URLSearchParams): Promise<string | undefined> {
    if (form.get('grant_type') !== 'client_credentials') return 'grant_type';
    if (opts.clientSecret !== undefined) {
      return form.get('client_id') === opts.clientId && form.get('client_secret') === opts.clientSecret
        ? undefined
        : 'bad secret';
    }
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      return 'assertion type';
    const jwt = form.get('client_assertion') ?? '';
    const header = decodeProtectedHeader(jwt);
    if (header.kid !== opts.keyId || header.typ !== 'JWT') return `unknown kid ${header.kid} or typ ${header.typ}`;
    try {
      const { payload } = await jwtVerify(jwt, opts.publicKey as CryptoKey, {
        issuer: opts.clientId,
        subject: opts.clientId,
        audience: url,
        algorithms: [opts.alg as string],
        requiredClaims: ['exp', 'jti'],
      });
      if ((payload.exp as number) > Date.now() / 1000 + 300) return 'exp more than 5 minutes ahead';
      if (jtis.has(payload.jti as string)) return 'jti replayed';
      jtis.add(payload.jti as string);
      state.verifiedAssertions.push(payload);
      return undefined;
    } catch (err) {
      return `assertion rejected: ${(err as Error).message}`;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`;
  return {
    url,
    state,
    /** Whether an Authorization header carries a token this server issued and that has not expired. */
    accepts: (authorization: string | undefined) => {
      const expiry = tokens.get(authorization?.replace(/^Bearer /, '') ?? '');
      return expiry !== undefined && expiry > Date.now();
    },
    revokeAll: () => tokens.clear(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
