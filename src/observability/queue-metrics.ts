import type { Queue } from 'bullmq';
import type { RedisClient } from '../jobs/redis-connection.js';
import { scrapeGauge } from './metrics.js';

const STATES = ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'] as const;

/**
 * Registers the scrape-time gauges read from Redis: jobs by queue and state (BullMQ counts, shared by
 * every replica) and CDS Hooks feedback by service and outcome.
 */
export function registerQueueMetrics(queues: Queue[], redis: RedisClient, feedbackCountsKey: string): void {
  scrapeGauge(
    'fhir_assess_jobs',
    'Jobs by queue and state (read from Redis at scrape)',
    ['queue', 'state'],
    async () => {
      const rows: { labels: Record<string, string>; value: number }[] = [];
      for (const q of queues) {
        const counts = await q.getJobCounts(...STATES);
        for (const state of STATES) rows.push({ labels: { queue: q.name, state }, value: counts[state] ?? 0 });
      }
      return rows;
    },
  );
  scrapeGauge(
    'fhir_assess_cds_feedback',
    'CDS Hooks card feedback recorded, by service and outcome (read from Redis at scrape)',
    ['service', 'outcome'],
    async () => {
      const all = await redis.hgetall(feedbackCountsKey);
      return Object.entries(all).map(([field, value]) => {
        const [service, outcome] = field.split('|');
        return { labels: { service, outcome }, value: Number(value) };
      });
    },
  );
}
