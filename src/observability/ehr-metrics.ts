import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import { observeEhrRequest } from './metrics.js';

const INSTRUMENTED = Symbol('ehr-metrics');

/**
 * Counts every request of one EHR client (by final status, after the client's own retries) and times
 * it. Every FhirClient method goes through `request`, so wrapping that one method on the instance
 * covers reads, searches, pages and transactions without touching the client's code.
 * @returns the same client, instrumented once (calling it again is a no-op)
 */
export function instrumentEhrClient(client: FhirClient, source: string): FhirClient {
  const marked = client as FhirClient & { [INSTRUMENTED]?: true };
  if (marked[INSTRUMENTED]) return client;
  const original = client.request.bind(client);
  const request = async <T>(method: string, pathOrUrl: string, body?: unknown, headers?: Record<string, string>) => {
    const started = performance.now();
    try {
      const result = await original<T>(method, pathOrUrl, body, headers);
      observeEhrRequest(source, method, '2xx', performance.now() - started); // the client does not expose 200 vs 201
      return result;
    } catch (err) {
      const status = err instanceof FhirHttpError ? err.status : 'error';
      observeEhrRequest(source, method, status, performance.now() - started);
      throw err;
    }
  };
  Object.assign(client, { request, [INSTRUMENTED]: true });
  return client;
}
