import type { Bundle } from '@medplum/fhirtypes';
import type { SourceRegistry } from '../fhir/source-client.js';
import { ASSESSMENT_ID_SYSTEM } from '../writeback/ai-transparency.js';
import { scrapeGauge } from './metrics.js';

/** How long a count is reused between scrapes (ms): one EHR search per source a minute at most. */
const CACHE_MS = 60_000;

/**
 * `fhir_assess_awaiting_review{source}`: our RiskAssessments still preliminary in each EHR (a
 * clinician has not confirmed or rejected them; superseded ones are cancelled, so not counted), read
 * with one `_summary=count` search per EHR, reused for a minute.
 */
export function registerReviewMetrics(sources: SourceRegistry): void {
  let cached: { at: number; rows: { labels: Record<string, string>; value: number }[] } | undefined;
  scrapeGauge(
    'fhir_assess_awaiting_review',
    'AI RiskAssessments written by this service still preliminary (awaiting clinician review), per EHR',
    ['source'],
    async () => {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.rows;
      const rows = await Promise.all(
        sources.all().map(async ({ source, client }) => {
          const b = await client.get<Bundle>('RiskAssessment', {
            status: 'preliminary',
            identifier: `${ASSESSMENT_ID_SYSTEM}|`,
            _summary: 'count',
          });
          return { labels: { source: source.name }, value: b.total ?? b.entry?.length ?? 0 };
        }),
      );
      cached = { at: Date.now(), rows };
      return rows;
    },
  );
}
