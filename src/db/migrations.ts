import { GOVERNANCE_MIGRATIONS } from '../governance/schema.js';
import { VALIDATION_REPORT_MIGRATIONS } from '../validation/report-store.js';
import type { Migration } from './migrate.js';

/**
 * Every schema change, in the order applied. Each feature that keeps durable records adds its own
 * list here (e.g. the audit trail, validation reports); an applied migration is never edited.
 */
export const MIGRATIONS: readonly Migration[] = [...GOVERNANCE_MIGRATIONS, ...VALIDATION_REPORT_MIGRATIONS];
