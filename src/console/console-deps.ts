import type { Queue } from 'bullmq';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { RegisteredModel } from '../models/registry.js';
import type { DriftMonitor } from '../monitoring/drift.js';
import type { ValidationReportStore } from '../validation/report-store.js';
import type { ModelHistorySource } from './model-history.js';

/** What the operator console reads. Everything is read-only: the console never writes to the EHR. */
export interface ConsoleDeps {
  sources: SourceRegistry;
  queues: Queue[];
  redis: RedisClient;
  keyPrefix: string;
  registered: readonly RegisteredModel[];
  history: ModelHistorySource;
  /** Stored validation reports (absent without DATABASE_URL). */
  reports?: ValidationReportStore;
  drift?: DriftMonitor;
  /** DRIFT_PSI_THRESHOLD, for the drift charts. */
  driftThreshold: number;
  driftWindowDays: number;
  shadowRetentionDays: number;
  /** The as-of date assessments use (AS_OF or now). */
  asOf: () => Date;
  deidentifySecret?: string;
  /** Which managed sources have Subscriptions (for the Overview's subscription states). */
  managedSources: string[];
}
