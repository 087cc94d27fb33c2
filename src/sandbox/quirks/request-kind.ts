import type { FastifyRequest } from 'fastify';
import { FHIR_BASE_PATH } from '../constants.js';

/** The request path below the FHIR base without query or leading slash (`''` for the base), or undefined outside it. */
export function fhirPath(url: string): string | undefined {
  const path = url.split('?')[0];
  if (path !== FHIR_BASE_PATH && !path.startsWith(`${FHIR_BASE_PATH}/`)) return undefined;
  return path.slice(FHIR_BASE_PATH.length).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** The Bundle type of a `POST {base}` (batch or transaction), if that is what the request is. */
export function postedBundleType(req: FastifyRequest): string | undefined {
  if (req.method !== 'POST' || fhirPath(req.url) !== '') return undefined;
  const body = req.body as { resourceType?: string; type?: string } | undefined;
  return body?.resourceType === 'Bundle' ? body.type : undefined;
}
