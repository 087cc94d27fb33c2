import type { Source } from '../config/sources.js';
import { FhirClient } from './fhir-client.js';

/** The EHR client for one configured source. */
export function createSourceClient(source: Source): FhirClient {
  const auth = source.auth;
  if (auth.type === 'smart-backend' || auth.type === 'client-credentials') {
    throw new Error(`source ${source.name}: auth type '${auth.type}' is not implemented yet; use 'none' or 'bearer'`);
  }
  return new FhirClient({
    baseUrl: source.fhirBaseUrl,
    bearerToken: auth.type === 'bearer' ? auth.token : undefined,
    timeoutMs: source.timeoutMs,
  });
}

/** Every configured source with its client, by name. */
export class SourceRegistry {
  private readonly byName = new Map<string, { source: Source; client: FhirClient }>();

  constructor(sources: readonly Source[], makeClient: (s: Source) => FhirClient = createSourceClient) {
    for (const source of sources) this.byName.set(source.name, { source, client: makeClient(source) });
  }

  get(name: string): { source: Source; client: FhirClient } {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`unknown source '${name}'`);
    return entry;
  }

  client(name: string): FhirClient {
    return this.get(name).client;
  }

  all(): { source: Source; client: FhirClient }[] {
    return [...this.byName.values()];
  }
}
