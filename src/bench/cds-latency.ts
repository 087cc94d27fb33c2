import { loadConfig } from '../config/config.js';
import { startService } from '../service.js';
import { createLogger } from '../util/logger.js';
import { percentile } from './bench.js';

/** CDS Hooks calls timed (sequentially, one at a time: latency, not throughput). */
const SAMPLES = 100;
const KEY = 'bench-cds-api-key-0123456789';

export interface CdsLatency {
  cdsP50Ms: number;
  cdsP95Ms: number;
  ehrP50Ms: number;
  ehrP95Ms: number;
  /** Calls that returned at least one card. */
  withCards: number;
  samples: number;
}

/**
 * `POST /cds-services/fhir-assess-risk` (patient-view) for already assessed patients, against the
 * floor: the same two EHR searches (RiskAssessment, ClinicalImpression) issued directly, in parallel.
 */
export async function cdsLatency(base: string, redisUrl: string, patientIds: string[]): Promise<CdsLatency> {
  const cfg = loadConfig({
    FHIR_BASE_URL: base,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `bench-cds-${process.pid}-${Date.now()}`,
    HOST: '127.0.0.1',
    PORT: '0',
    API_KEYS: KEY,
    LOG_LEVEL: 'error',
  });
  const service = await startService(cfg, { http: true, workers: false }, createLogger('error'), []);
  const cds: number[] = [];
  const ehr: number[] = [];
  let withCards = 0;
  try {
    for (let i = 0; i < Math.min(SAMPLES, patientIds.length); i++) {
      const patientId = patientIds[i];
      let t = performance.now();
      const r = await fetch(`${service.url}/cds-services/fhir-assess-risk`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: `b-${i}`,
          context: { userId: 'Practitioner/1', patientId },
        }),
      });
      const { cards } = (await r.json()) as { cards: unknown[] };
      cds.push(performance.now() - t);
      if (cards.length) withCards++;
      t = performance.now();
      const q = `subject=Patient/${patientId}&_sort=-date&_count=20`;
      await Promise.all(
        [`RiskAssessment?${q}`, `ClinicalImpression?${q}`].map((p) => fetch(`${base}/${p}`).then((x) => x.json())),
      );
      ehr.push(performance.now() - t);
    }
  } finally {
    await service.close();
  }
  const round = (n: number) => Number(n.toFixed(1));
  return {
    cdsP50Ms: round(percentile(cds, 50)),
    cdsP95Ms: round(percentile(cds, 95)),
    ehrP50Ms: round(percentile(ehr, 50)),
    ehrP95Ms: round(percentile(ehr, 95)),
    withCards,
    samples: cds.length,
  };
}
