import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditBundle } from '../governance/audit-event-fhir.js';
import { type AuditFilter, queryAudit } from '../governance/audit-query.js';
import { AUDIT_ACTIONS, type AuditAction } from '../governance/audit-trail.js';
import { type ApiDeps, publicBase, sendFhir } from './api-deps.js';
import { ApiError } from './api-error.js';
import { requireAuth, SCOPES } from './auth.js';

/** Most AuditEvents one page returns. */
const MAX_COUNT = 500;
const REF = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;
const ACTIONS = new Set<string>(AUDIT_ACTIONS);

/**
 * `GET /fhir/AuditEvent?patient=&entity=&date=&agent=&type=&_count=`: the audit trail as FHIR R4
 * AuditEvents (src/governance/audit-event-fhir.ts), oldest first, paged by a `next` link.
 */
export async function auditRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/fhir/AuditEvent', { preHandler: requireAuth(deps.auth, SCOPES.audit) }, async (req, reply) => {
    if (!deps.db) throw new ApiError(501, 'the audit trail is kept in PostgreSQL: this deployment has no DATABASE_URL');
    const { filter, count } = parseQuery(req);
    const rows = await queryAudit(deps.db, filter, count + 1);
    const page = rows.slice(0, count);
    const base = `${publicBase(deps, req)}${req.url.split('?')[0]}`;
    const self = `${base}${req.url.includes('?') ? `?${req.url.split('?')[1]}` : ''}`;
    let next: string | undefined;
    if (rows.length > count) {
      const params = new URLSearchParams(req.url.split('?')[1] ?? '');
      params.set('_cursor', String(page[page.length - 1].seq));
      next = `${base}?${params}`;
    }
    return sendFhir(reply, 200, auditBundle(page, self, next));
  });
}

function parseQuery(req: FastifyRequest): { filter: AuditFilter; count: number } {
  const q = req.query as Record<string, string | string[]>;
  const one = (k: string) => (Array.isArray(q[k]) ? (q[k] as string[])[0] : (q[k] as string | undefined));
  const known = ['patient', 'entity', 'date', 'agent', 'type', 'model', '_count', '_cursor'];
  const unknown = Object.keys(q).filter((k) => !known.includes(k));
  if (unknown.length)
    throw new ApiError(400, `unknown parameter(s): ${unknown.join(', ')}; supported: ${known.join(', ')}`);
  const filter: AuditFilter = {};
  const patient = one('patient');
  if (patient) filter.patient = ref(patient.startsWith('Patient/') ? patient : `Patient/${patient}`, 'patient');
  const entity = one('entity');
  if (entity) filter.entity = ref(entity, 'entity');
  const agent = one('agent');
  if (agent) filter.actor = agent;
  const model = one('model');
  if (model) filter.model = model;
  const type = one('type');
  if (type) {
    const actions = type.split(',').map((t) => t.replace(/^.*\|/, ''));
    if (actions.some((a) => !ACTIONS.has(a))) throw new ApiError(400, `type must be one of ${[...ACTIONS].join(', ')}`);
    filter.action = actions as AuditAction[];
  }
  for (const d of [q.date ?? []].flat()) Object.assign(filter, dateBound(d));
  const cursor = one('_cursor');
  if (cursor) {
    if (!/^\d{1,18}$/.test(cursor)) throw new ApiError(400, '_cursor must be a record number from a next link');
    filter.afterSeq = Number(cursor);
  }
  const count = Math.min(Math.max(Number(one('_count') ?? 100) || 100, 1), MAX_COUNT);
  return { filter, count };
}

function ref(value: string, name: string): string {
  if (!REF.test(value))
    throw new ApiError(400, `${name} must be a reference like Type/id, got '${value.slice(0, 80)}'`);
  return value;
}

/** FHIR date search: `ge`/`gt` set the lower bound, `le`/`lt` the upper, none (`eq`) the day or instant itself. */
function dateBound(d: string): Partial<AuditFilter> {
  const m = /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?)$/.exec(d);
  if (!m) throw new ApiError(400, `date must be a FHIR date search value like ge2025-01-01, got '${d.slice(0, 40)}'`);
  const [, prefix = 'eq', value] = m;
  const at = new Date(value).toISOString();
  const dayAfter = new Date(Date.parse(value) + (value.length === 10 ? 86_400_000 : 1)).toISOString();
  if (prefix === 'ge') return { since: at };
  if (prefix === 'gt') return { since: dayAfter };
  if (prefix === 'lt') return { until: at };
  if (prefix === 'le') return { until: dayAfter };
  return { since: at, until: dayAfter };
}
