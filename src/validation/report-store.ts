import type { Database } from '../db/database.js';
import type { Migration } from '../db/migrate.js';
import type { ValidationReport } from './report.js';

/**
 * Validation reports are evidence (a promotion cites one by id), so the table is append-only: a
 * trigger refuses UPDATE and DELETE. A corrected validation is a new report with a new id.
 */
export const VALIDATION_REPORT_MIGRATIONS: readonly Migration[] = [
  {
    id: '200-validation-reports',
    sql: `
CREATE TABLE validation_reports (
  id text PRIMARY KEY,
  created_at timestamptz NOT NULL,
  model_id text NOT NULL,
  model_version text NOT NULL,
  prediction text NOT NULL,
  as_of date NOT NULL,
  horizon_years integer NOT NULL,
  source text NOT NULL,
  population text NOT NULL,
  assessed integer NOT NULL,
  events integer NOT NULL,
  report jsonb NOT NULL
);
CREATE INDEX validation_reports_by_model ON validation_reports (model_id, model_version, prediction, created_at DESC);
CREATE FUNCTION validation_reports_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'validation_reports is append-only: report % cannot be changed or removed', OLD.id;
END $$;
CREATE TRIGGER validation_reports_append_only BEFORE UPDATE OR DELETE ON validation_reports
  FOR EACH ROW EXECUTE FUNCTION validation_reports_append_only();`,
  },
];

/** A listing line: what a report validated and its headline numbers. */
export interface ReportSummary {
  id: string;
  createdAt: string;
  modelId: string;
  modelVersion: string;
  prediction: string;
  asOf: string;
  horizonYears: number;
  population: string;
  assessed: number;
  events: number;
  oe?: number;
  cUno?: number;
}

export interface ReportQuery {
  modelId?: string;
  modelVersion?: string;
  prediction?: string;
  /** Newest first; default 50, at most 500. */
  limit?: number;
}

interface Row {
  id: string;
  created_at: Date;
  model_id: string;
  model_version: string;
  prediction: string;
  as_of: string;
  horizon_years: number;
  population: string;
  assessed: number;
  events: number;
  oe: number | null;
  c_uno: number | null;
}

/** Validation reports in PostgreSQL (DATABASE_URL). */
export class ValidationReportStore {
  constructor(private readonly db: Database) {}

  async save(r: ValidationReport): Promise<void> {
    await this.insert(this.db, r);
  }

  /** Stores the reports of one run together: all or none (a retried run then stores no duplicates). */
  async saveAll(reports: ValidationReport[]): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      for (const r of reports) await this.insert(client, r);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  private async insert(db: Pick<Database, 'query'>, r: ValidationReport): Promise<void> {
    await db.query(
      `INSERT INTO validation_reports (id, created_at, model_id, model_version, prediction, as_of, horizon_years,
         source, population, assessed, events, report) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
      [
        r.id,
        r.createdAt,
        r.model.id,
        r.model.version,
        r.model.prediction,
        r.asOf,
        r.horizonYears,
        r.population.source,
        r.population.selection,
        r.counts.assessed,
        r.counts.events,
        JSON.stringify(r),
      ],
    );
  }

  async get(id: string): Promise<ValidationReport | undefined> {
    const { rows } = await this.db.query<{ report: ValidationReport }>(
      'SELECT report FROM validation_reports WHERE id = $1',
      [id],
    );
    return rows[0]?.report;
  }

  /** Newest first, optionally for one model, version and prediction. */
  async list(q: ReportQuery = {}): Promise<ReportSummary[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT id, created_at, model_id, model_version, prediction, as_of::text, horizon_years, population, assessed,
              events, (report->'overall'->>'oe')::float8 AS oe, (report->'overall'->>'cUno')::float8 AS c_uno
         FROM validation_reports
        WHERE ($1::text IS NULL OR model_id = $1) AND ($2::text IS NULL OR model_version = $2)
          AND ($3::text IS NULL OR prediction = $3)
        ORDER BY created_at DESC, id LIMIT $4`,
      [q.modelId ?? null, q.modelVersion ?? null, q.prediction ?? null, Math.min(Math.max(q.limit ?? 50, 1), 500)],
    );
    return rows.map((r) => ({
      id: r.id,
      createdAt: r.created_at.toISOString(),
      modelId: r.model_id,
      modelVersion: r.model_version,
      prediction: r.prediction,
      asOf: r.as_of,
      horizonYears: r.horizon_years,
      population: r.population,
      assessed: r.assessed,
      events: r.events,
      oe: r.oe ?? undefined,
      cUno: r.c_uno ?? undefined,
    }));
  }

  /** The newest report of one model version's prediction: the baseline drift is measured against. */
  async latest(modelId: string, modelVersion: string, prediction: string): Promise<ValidationReport | undefined> {
    const [first] = await this.list({ modelId, modelVersion, prediction, limit: 1 });
    return first ? this.get(first.id) : undefined;
  }
}
