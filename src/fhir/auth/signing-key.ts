import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importJWK, type JWK } from 'jose';
import { AuthError } from '../fhir-errors.js';

export type SigningAlg = 'RS384' | 'ES384';

/** A key jose can sign with (a KeyObject on Node, or a CryptoKey from a JWK). */
export type SigningKey = Awaited<ReturnType<typeof importJWK>> | KeyObject;

/**
 * Loads the private key for `private_key_jwt`: a JWK (JSON) or a PEM (PKCS#8, PKCS#1 or SEC1);
 * `@/path` reads it from a file. Checks that the key fits the algorithm (RSA for RS384, P-384 for
 * ES384) so a mismatch fails at start-up, not at the EHR. Error messages never include key material.
 */
export async function loadSigningKey(spec: string, alg: SigningAlg): Promise<SigningKey> {
  let text = spec;
  if (spec.startsWith('@')) {
    try {
      text = await readFile(spec.slice(1), 'utf8');
    } catch (err) {
      throw new AuthError(`cannot read the private key file ${spec.slice(1)}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  text = text.trim();
  if (text.startsWith('{')) return fromJwk(text, alg);
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new AuthError('the private key is neither a JWK nor a PEM private key');
  }
  checkKeyFitsAlg(key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve, alg);
  return key;
}

async function fromJwk(text: string, alg: SigningAlg): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new AuthError('the private key JWK is not valid JSON');
  }
  if (!jwk.d) throw new AuthError('the JWK is a public key; SMART Backend Services needs the private key');
  checkKeyFitsAlg(jwk.kty === 'RSA' ? 'rsa' : jwk.kty === 'EC' ? 'ec' : jwk.kty, jwk.crv, alg);
  try {
    return await importJWK(jwk, alg);
  } catch (err) {
    throw new AuthError(`the private key JWK cannot be used for ${alg}: ${(err as Error).message}`);
  }
}

function checkKeyFitsAlg(type: string | undefined, curve: string | undefined, alg: SigningAlg): void {
  const ok = alg === 'RS384' ? type === 'rsa' : type === 'ec' && (curve === 'P-384' || curve === 'secp384r1');
  if (!ok) throw new AuthError(`the private key (${type}${curve ? ` ${curve}` : ''}) does not fit ${alg}`);
}
