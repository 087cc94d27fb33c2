import type { RiskAssessment } from '@medplum/fhirtypes';
import { isCurrent } from '../api/cds-cards.js';
import { ASSESSMENT_ID_SYSTEM } from '../writeback/ai-transparency.js';
import type { ConsoleDeps } from './console-deps.js';

export interface AwaitingReview {
  source: string;
  id: string;
  patientId: string;
  calculator: string;
  probability?: number;
  category?: string;
  model: string;
  assessedAt?: string;
}

/** Most preliminary RiskAssessments listed per source. */
export const REVIEW_LIMIT = 500;

/**
 * What awaits clinician review: our current preliminary RiskAssessments on each EHR (not superseded,
 * cancelled or entered-in-error), newest first. Issue 11's review records will say which were seen.
 * Found by our identifier system (`identifier=system|`): R4 RiskAssessment has no `status` search
 * parameter, so the status is checked here.
 */
export async function reviewData(deps: ConsoleDeps): Promise<AwaitingReview[]> {
  const out: AwaitingReview[] = [];
  for (const { source, client } of deps.sources.all()) {
    const found: RiskAssessment[] = [];
    for await (const page of client.pages('RiskAssessment', {
      identifier: `${ASSESSMENT_ID_SYSTEM}|`,
      _count: '200',
    })) {
      for (const e of page.entry ?? []) if (e.resource?.resourceType === 'RiskAssessment') found.push(e.resource);
      if (found.length >= REVIEW_LIMIT) break;
    }
    for (const r of found.filter((x) => x.status === 'preliminary' && isCurrent(x))) {
      out.push({
        source: source.name,
        id: r.id ?? '?',
        patientId: r.subject?.reference?.replace(/^Patient\//, '') ?? '?',
        calculator: r.method?.coding?.[0]?.code ?? 'model',
        probability: r.prediction?.[0]?.probabilityDecimal,
        category: r.prediction?.[0]?.qualitativeRisk?.text,
        model: r.performer?.display ?? 'AI model',
        assessedAt: r.occurrenceDateTime,
      });
    }
  }
  return out.sort((a, b) => (b.assessedAt ?? '').localeCompare(a.assessedAt ?? ''));
}
