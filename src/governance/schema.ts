import type { Migration } from '../db/migrate.js';

/** `SET LOCAL` switch that lets the retention purge (and only it) delete audit rows. */
export const AUDIT_PURGE_SETTING = 'fhir_assess.audit_purge';
/** Advisory lock key serialising appends, so every row chains to exactly one predecessor. */
export const AUDIT_CHAIN_LOCK = 4_201_778;
/** `prev_hash` of the first row ever appended. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The governance tables. The audit trail is append-only (a trigger refuses UPDATE, DELETE and
 * TRUNCATE, except deletes inside a transaction that set {@link AUDIT_PURGE_SETTING}: the retention
 * purge) and hash-chained: `hash = sha256(prev_hash || body)`, computed under an advisory lock inside
 * `audit_append`, so concurrent writers never fork the chain. `body` is the canonical JSON the hash
 * covers; the other columns are copies of it for queries.
 */
const AUDIT_TRAIL = `
CREATE TABLE audit_events (
  seq bigserial PRIMARY KEY,
  recorded timestamptz NOT NULL,
  action text NOT NULL,
  source text,
  patient text,
  model text,
  entities text[] NOT NULL DEFAULT '{}',
  actor text,
  body text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_events_patient ON audit_events (patient, seq);
CREATE INDEX audit_events_model ON audit_events (model, seq);
CREATE INDEX audit_events_recorded ON audit_events (recorded);
CREATE INDEX audit_events_entities ON audit_events USING gin (entities);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('${AUDIT_PURGE_SETTING}', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE FUNCTION audit_append(p_recorded timestamptz, p_action text, p_source text, p_patient text,
  p_model text, p_entities text[], p_actor text, p_body text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  prev text;
  new_seq bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK});
  SELECT hash INTO prev FROM audit_events ORDER BY seq DESC LIMIT 1;
  prev := coalesce(prev, (SELECT last_hash FROM audit_chain_anchor WHERE id = 1), '${GENESIS_HASH}');
  INSERT INTO audit_events (recorded, action, source, patient, model, entities, actor, body, prev_hash, hash)
    VALUES (p_recorded, p_action, p_source, p_patient, p_model, coalesce(p_entities, '{}'), p_actor, p_body, prev,
      encode(sha256(convert_to(prev || p_body, 'UTF8')), 'hex'))
    RETURNING seq INTO new_seq;
  RETURN new_seq;
END $$;

-- Where the chain continues from after a purge removed every row (and what verify starts from).
CREATE TABLE audit_chain_anchor (
  id int PRIMARY KEY CHECK (id = 1),
  last_seq bigint NOT NULL,
  last_hash text NOT NULL,
  purged_at timestamptz NOT NULL
);
`;

/**
 * The model registry's current state: one row per model id@version. Rows seeded from configuration
 * have `explicit = false` (configuration decides the mode); an explicit promotion, retirement or
 * recall sets `explicit = true` and from then on the row is the authority. Every change is also
 * appended to the audit trail in the same transaction. Workers hold `FOR SHARE` on the row while they
 * write back, so a recall (an UPDATE) waits for writes in flight and every later write sees it.
 */
const MODEL_REGISTRY = `
CREATE TABLE model_versions (
  model_id text NOT NULL,
  version text NOT NULL,
  mode text NOT NULL CHECK (mode IN ('shadow', 'preliminary', 'final', 'retired', 'recalled')),
  explicit boolean NOT NULL DEFAULT false,
  changed_at timestamptz NOT NULL DEFAULT now(),
  changed_by text,
  evidence text,
  reason text,
  first_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, version)
);
`;

/** One row per reviewed assessment (its latest decision); the history of decisions is in the audit trail. */
const REVIEWS = `
CREATE TABLE assessment_reviews (
  source text NOT NULL,
  assessment_key text NOT NULL,
  model text NOT NULL,
  patient text NOT NULL,
  decision text NOT NULL CHECK (decision IN ('confirm', 'amend', 'reject')),
  via text NOT NULL,
  reviewer text,
  reason_code text,
  decided_at timestamptz NOT NULL,
  resources text[] NOT NULL,
  PRIMARY KEY (source, assessment_key)
);
CREATE INDEX assessment_reviews_model ON assessment_reviews (model);
CREATE TABLE cds_feedback_reviews (
  card text NOT NULL,
  outcome text NOT NULL,
  outcome_at text NOT NULL,
  PRIMARY KEY (card, outcome, outcome_at)
);
`;

/** A recall's progress per EHR: where its enumeration stands, so a crashed run resumes there. */
const RECALLS = `
CREATE TABLE recalls (
  model_id text NOT NULL,
  version text NOT NULL,
  reason text NOT NULL,
  requested_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (model_id, version)
);
CREATE TABLE recall_progress (
  model_id text NOT NULL,
  version text NOT NULL,
  source text NOT NULL,
  page_url text,
  page_index int NOT NULL DEFAULT 0,
  assessments int NOT NULL DEFAULT 0,
  withdrawn int NOT NULL DEFAULT 0,
  done boolean NOT NULL DEFAULT false,
  PRIMARY KEY (model_id, version, source)
);
`;

/** Appended to MIGRATIONS (src/db/migrations.ts); ids 1xx belong to governance. */
export const GOVERNANCE_MIGRATIONS: readonly Migration[] = [
  { id: '100-audit-trail', sql: AUDIT_TRAIL },
  { id: '101-model-registry', sql: MODEL_REGISTRY },
  { id: '102-reviews', sql: REVIEWS },
  { id: '103-recalls', sql: RECALLS },
];
