import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from '@medplum/core';
import type { Group, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FHIR_BASE_PATH } from './constants.js';
import type { SandboxContext } from './context.js';

/** Bulk Data `$export` behaviour of the sandbox (Bulk Data IG STU2, standards.md §2b). */
export interface BulkExportOptions {
  /** Status polls answered 202 before the manifest is ready (exercises the client's polling). */
  pollsBeforeReady?: number;
  /** `Retry-After` sent with each 202, seconds. */
  retryAfterS?: number;
  /** Resources per NDJSON file (larger exports are split). */
  resourcesPerFile?: number;
  /** The manifest's `requiresAccessToken`: true when the files are behind the server's bearer check. */
  requiresAccessToken?: boolean;
}

interface ExportJob {
  level: 'system' | 'patient' | 'group';
  patients?: string[];
  types?: string[];
  sinceMs?: number;
  request: string;
  transactionTime: string;
  polls: number;
  files?: { type: string; resources: Resource[] }[];
}

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const FHIR_JSON = 'application/fhir+json';

/**
 * Registers `$export` (system, `Patient/`, `Group/{id}/`), its status URL (202 + X-Progress +
 * Retry-After, then the manifest; DELETE cancels) and the NDJSON files, all under the FHIR base.
 * Files hold the stored resources as of the kick-off's transaction time; they need an access token
 * only when the server checks bearer tokens (`requiresAccessToken`).
 */
export function registerBulkExport(app: FastifyInstance, ctx: SandboxContext, opts: BulkExportOptions = {}): void {
  const jobs = new Map<string, ExportJob>();
  const kickOff = (level: ExportJob['level']) => (req: FastifyRequest, reply: FastifyReply) => {
    const job = newJob(ctx, level, req);
    if (job === 'no-group') return reply.code(404).type(FHIR_JSON).send(notFound);
    if (typeof job === 'string') return reply.code(400).type(FHIR_JSON).send(badRequest(job));
    const id = randomUUID();
    jobs.set(id, job);
    return reply.code(202).header('Content-Location', `${ctx.baseUrl}/$export-status/${id}`).send();
  };
  app.get(`${FHIR_BASE_PATH}/$export`, kickOff('system'));
  app.get(`${FHIR_BASE_PATH}/Patient/$export`, kickOff('patient'));
  app.get(`${FHIR_BASE_PATH}/Group/:id/$export`, kickOff('group'));
  app.get(`${FHIR_BASE_PATH}/$export-status/:id`, (req, reply) => {
    const id = (req.params as { id: string }).id;
    const job = jobs.get(id);
    if (!job) return reply.code(404).type(FHIR_JSON).send(notFound);
    if (job.polls < (opts.pollsBeforeReady ?? 1)) {
      job.polls++;
      return reply
        .code(202)
        .header('X-Progress', `exporting (poll ${job.polls})`)
        .header('Retry-After', String(opts.retryAfterS ?? 1))
        .send();
    }
    job.files ??= buildFiles(ctx, job, opts.resourcesPerFile ?? 1000);
    return reply
      .code(200)
      .type('application/json')
      .send(manifest(ctx, id, job, opts.requiresAccessToken ?? false));
  });
  app.delete(`${FHIR_BASE_PATH}/$export-status/:id`, (req, reply) => {
    const found = jobs.delete((req.params as { id: string }).id);
    return found ? reply.code(202).send() : reply.code(404).type(FHIR_JSON).send(notFound);
  });
  app.get(`${FHIR_BASE_PATH}/$export-file/:id/:n`, (req, reply) => {
    const { id, n } = req.params as { id: string; n: string };
    const file = jobs.get(id)?.files?.[Number(n)];
    if (!file) return reply.code(404).type(FHIR_JSON).send(notFound);
    const body = file.resources.map((r) => JSON.stringify(r)).join('\n');
    return reply
      .code(200)
      .type('application/fhir+ndjson')
      .send(body ? `${body}\n` : '');
  });
}

/** Validates the kick-off; returns why it is refused (a message, or `no-group`) instead of a job. */
function newJob(ctx: SandboxContext, level: ExportJob['level'], req: FastifyRequest): ExportJob | string {
  const q = req.query as Record<string, string | undefined>;
  if (!/respond-async/i.test(String(req.headers.prefer ?? ''))) return 'Prefer: respond-async is required';
  if (q._outputFormat && !NDJSON_FORMATS.has(q._outputFormat)) return `Unsupported _outputFormat: ${q._outputFormat}`;
  const sinceMs = q._since ? Date.parse(q._since) : undefined;
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) return `Invalid _since: ${q._since}`;
  const types = q._type
    ? q._type
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : undefined;
  let patients: string[] | undefined;
  if (level === 'patient') patients = [...ctx.repo.resourcesOf('Patient')].map((p) => p.id);
  if (level === 'group') {
    const group = ctx.repo.peek<Group>('Group', (req.params as { id: string }).id);
    if (!group) return 'no-group';
    patients = (group.member ?? [])
      .filter((m) => !m.inactive)
      .map((m) => /(?:^|\/)Patient\/([^/]+)$/.exec(m.entity?.reference ?? '')?.[1])
      .filter((id): id is string => !!id);
  }
  const request = `${ctx.baseUrl}${req.url.slice(FHIR_BASE_PATH.length)}`;
  return { level, patients, types, sinceMs, request, transactionTime: new Date().toISOString(), polls: 0 };
}

/** The resources of each requested type (a patient set limits them to those patients' compartments). */
function buildFiles(ctx: SandboxContext, job: ExportJob, perFile: number): { type: string; resources: Resource[] }[] {
  const fresh = (r: Resource) => job.sinceMs === undefined || Date.parse(r.meta?.lastUpdated ?? '') >= job.sinceMs;
  const files: { type: string; resources: Resource[] }[] = [];
  for (const type of job.types ?? defaultTypes(ctx, job)) {
    const resources = resourcesOf(ctx, type, job.patients).filter(fresh);
    for (let i = 0; i < resources.length; i += perFile)
      files.push({ type, resources: resources.slice(i, i + perFile) });
  }
  return files;
}

function defaultTypes(ctx: SandboxContext, job: ExportJob): string[] {
  if (!job.patients) return ctx.repo.resourceTypes();
  const types = new Set(['Patient']);
  for (const p of job.patients) for (const t of ctx.repo.patientIndex.typesOf(p)) types.add(t);
  return [...types];
}

function resourcesOf(ctx: SandboxContext, type: string, patients: string[] | undefined): Resource[] {
  if (!patients) return [...ctx.repo.resourcesOf(type)];
  if (type === 'Patient')
    return patients.map((p) => ctx.repo.peek('Patient', p)).filter((r): r is NonNullable<typeof r> => !!r);
  const byId = new Map<string, Resource>();
  for (const p of patients) for (const r of ctx.repo.compartment(p, type)) byId.set(r.id, r);
  return [...byId.values()];
}

function manifest(ctx: SandboxContext, id: string, job: ExportJob, requiresAccessToken: boolean) {
  return {
    transactionTime: job.transactionTime,
    request: job.request,
    requiresAccessToken,
    output: (job.files ?? []).map((f, n) => ({
      type: f.type,
      url: `${ctx.baseUrl}/$export-file/${id}/${n}`,
      count: f.resources.length,
    })),
    error: [],
  };
}
