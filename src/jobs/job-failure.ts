import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';

/** Who a failed assessment's failure belongs to. */
export type FailureKind =
  /** The EHR does not hold the patient (404/410 reading `Patient/{id}`). */
  | 'patient-not-found'
  /** The EHR answered a request with a 4xx (credentials, scopes, a refused write...). */
  | 'ehr-refused'
  /** The EHR answered 5xx/408/429, or not at all, on every attempt. */
  | 'ehr-unavailable'
  /** The hosted model's endpoint failed or answered unusably. */
  | 'model'
  /** Anything else: a fault inside fhir-assess (including output that failed validation). */
  | 'internal';

/** A failed assessment job, explained: for the status URL, the synchronous `$assess` and backfill output. */
export interface JobFailure {
  kind: FailureKind;
  /**
   * HTTP status that describes it to an API caller: 404/410 when the patient is not on the EHR, 502
   * when the EHR or the hosted model (upstream of us) failed or refused, 500 for our own faults.
   */
  status: number;
  /** What failed, as one sentence (ids and paths only). */
  what: string;
  /** What to do about the cause, without the retry advice (backfill prints that once for all). */
  fix?: string;
  /** What to do about it: the fix, then how to retry this job. */
  next: string;
  /** The EHR's own answer, when the EHR refused or failed: its status and OperationOutcome text. */
  ehr?: { status?: number; path?: string; text: string };
}

type FailedJob = Pick<Job, 'id' | 'failedReason' | 'stacktrace' | 'attemptsMade'> & {
  data?: { source?: string; patientId?: string; priority?: string };
};

/** `EHR refused (HTTP 404) at /fhir/R4/Patient/1: Not found` (jobs/workers.ts); older reasons lack ` at PATH`. */
const EHR_ANSWER = /^EHR (refused|failed) \(HTTP (\d{3})\)(?: at (\S*))?: ?([\s\S]*)$/;
/** The FhirClient's own text for an EHR answer without an OperationOutcome. */
const BARE_ANSWER = /EHR answered HTTP (\d{3}) to \S+ (\S+)/;
/** A write-back transaction entry the EHR refused (writeback/send.ts). */
const ENTRY_REFUSED = /^write-back entry \d+ \(\w+\) failed with status (\d{3})/;

/** One failure's explanation before the retry advice is added. */
type Explained = Omit<JobFailure, 'next'> & { retry: boolean };

/**
 * Explains a failed assessment job from what BullMQ kept of it: its `failedReason` (whose prefixes
 * jobs/workers.ts `classify` writes) and the error's class name (the first line of its last stack).
 */
export function describeFailure(job: FailedJob): JobFailure {
  const { retry, fix, ...rest } = explain(job);
  const then = rest.kind === 'internal' ? '; once it is fixed, ' : ', then ';
  const next = retry ? `${fix ? `${fix}${then}` : ''}retry: ${retryHow(job)}` : (fix ?? 'nothing to retry');
  return { ...rest, fix, next };
}

function explain(job: FailedJob): Explained {
  const reason = (job.failedReason ?? '').trim() || 'no reason recorded';
  const errorName = /^(\w+)(?::|$)/.exec(job.stacktrace?.at(-1) ?? '')?.[1];
  const source = `source '${job.data?.source ?? 'ehr'}'`;
  const patient = job.data?.patientId ? `Patient/${job.data.patientId}` : 'the patient';
  const attempts = `${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`;
  const refused = (what: string, fix: string, ehr: JobFailure['ehr']): Explained => ({
    kind: 'ehr-refused',
    status: 502,
    what,
    fix,
    ehr,
    retry: true,
  });
  const unavailable = (how: string, ehr: JobFailure['ehr']): Explained => ({
    kind: 'ehr-unavailable',
    status: 502,
    what: `${source} ${how} (${attempts})`,
    fix: 'the EHR may be down, overloaded or unreachable; wait until it answers again',
    ehr,
    retry: true,
  });

  const answer = EHR_ANSWER.exec(reason);
  if (answer) {
    const [, verb, code, path, text] = answer;
    const status = Number(code);
    const ehr = { status, path, text: text.trim() };
    const at = path ? ` to ${path}` : '';
    if ((status === 404 || status === 410) && (!path || path === patient || path.endsWith(`/${patient}`))) {
      return {
        kind: 'patient-not-found',
        status,
        what: `${patient} is not on ${source} (the EHR answered ${status} reading it)`,
        fix: 'nothing to retry unless the patient is restored on the EHR',
        ehr,
        retry: false,
      };
    }
    if (verb === 'failed') return unavailable(`answered HTTP ${status}${at}`, ehr);
    const credentials = status === 401 || status === 403;
    return refused(
      `${source} refused fhir-assess's request${at} with HTTP ${status}`,
      credentials
        ? `check the credentials and scopes fhir-assess uses for ${source} (it reads the record and creates RiskAssessment, ClinicalImpression, Provenance and Device)`
        : `fix what the EHR's answer names, on the EHR or in the settings of ${source}`,
      ehr,
    );
  }
  if (errorName === 'FhirHttpError') {
    const bare = BARE_ANSWER.exec(reason);
    return unavailable('failed on every attempt', { status: bare ? Number(bare[1]) : undefined, text: reason });
  }
  if (errorName === 'FhirConnectionError') return unavailable('could not be reached', { text: reason });
  const entry = ENTRY_REFUSED.exec(reason);
  if (entry) {
    return refused(
      `${source} refused part of the write-back transaction (entry status ${entry[1]})`,
      "look for the reason in the EHR's logs (its transaction-response gave none)",
      { status: Number(entry[1]), text: reason },
    );
  }
  const prefixed = (name: string) => reason.startsWith(`${name}: `) || errorName === name;
  const unprefixed = (name: string) => reason.replace(new RegExp(`^${name}: `), '');
  if (prefixed('AuthError')) {
    return refused(
      `fhir-assess could not obtain a token for ${source}`,
      "check that source's auth settings (client id, key or secret, token URL, scopes)",
      { text: unprefixed('AuthError') },
    );
  }
  if (prefixed('ForeignUrlError')) {
    return refused(
      `${source} answered with a link outside its FHIR base URL, which fhir-assess never follows`,
      "check the source's fhirBaseUrl against the URLs the EHR puts in its answers (e.g. behind a proxy)",
      { text: unprefixed('ForeignUrlError') },
    );
  }
  if (prefixed('FhirResponseTooLargeError')) {
    return refused(
      `${source} sent an answer larger than the configured limit`,
      "raise the source's maxResponseBytes, or lower its record.pageSize",
      { text: unprefixed('FhirResponseTooLargeError') },
    );
  }
  if (reason.startsWith('hosted model (') || errorName === 'RemoteModelError') {
    return {
      kind: 'model',
      status: 502,
      what: `the hosted model failed after ${attempts}: ${reason}`,
      fix: 'check the model endpoint and its settings (nothing was written)',
      retry: true,
    };
  }
  const named = errorName && errorName !== 'Error' && errorName !== 'UnrecoverableError' ? `${errorName}: ` : '';
  return {
    kind: 'internal',
    status: 500,
    what: `the assessment failed inside fhir-assess after ${attempts} (${named}${reason})`,
    fix: `this is not caused by the request: please report it with job ${job.id} (the worker log and \`fhir-assess jobs failed\` show it)`,
    retry: true,
  };
}

/** How to run a failed job again, by what started it. */
function retryHow(job: FailedJob): string {
  const cli = `\`fhir-assess jobs retry ${job.id}\``;
  const priority = job.data?.priority;
  if (priority === 'api' || priority === 'batch') return `POST the $assess again, or ${cli}`;
  if (priority === 'backfill')
    return `run the same backfill command again (it retries its failed assessments), or ${cli}`;
  return `${cli} (or wait for the patient's next change)`;
}

/** The failure as one line (the batch-response entries): what failed, the EHR's answer, what to do. */
export function failureText(f: JobFailure): string {
  return `${failureSummary(f)}; ${f.next}`;
}

/** What failed, the EHR's answer and the fix, without the retry advice (backfill prints that once). */
export function failureSummary(f: JobFailure): string {
  const answer = f.ehr ? ` (EHR answer: ${ehrAnswer(f.ehr)})` : '';
  return `${f.what}${answer}${f.fix ? `; ${f.fix}` : ''}`;
}

/**
 * The OperationOutcome a failed request answers with: what failed and what to do (issue 1), and the
 * EHR's own answer when there is one (issue 2).
 */
export function failureOutcome(f: JobFailure, subject: string): OperationOutcome {
  const issue: OperationOutcomeIssue[] = [
    { severity: 'error', code: issueCode(f), diagnostics: `${subject}: ${f.what}; ${f.next}` },
  ];
  if (f.ehr)
    issue.push({ severity: 'error', code: ehrIssueCode(f.ehr.status), diagnostics: `EHR answer: ${ehrAnswer(f.ehr)}` });
  return { resourceType: 'OperationOutcome', issue };
}

function ehrAnswer(e: NonNullable<JobFailure['ehr']>): string {
  const status = e.status ? `HTTP ${e.status}` : '';
  return [status, e.text].filter(Boolean).join(': ') || 'none';
}

function issueCode(f: JobFailure): OperationOutcomeIssue['code'] {
  if (f.kind === 'patient-not-found') return 'not-found';
  if (f.kind === 'ehr-refused') return f.ehr?.status === 401 || f.ehr?.status === 403 ? 'security' : 'processing';
  if (f.kind === 'ehr-unavailable') return 'transient';
  return 'exception';
}

function ehrIssueCode(status: number | undefined): OperationOutcomeIssue['code'] {
  if (status === 401 || status === 403) return 'security';
  if (status === 404 || status === 410) return 'not-found';
  if (status === 408 || status === 429 || (status ?? 0) >= 500) return 'transient';
  return 'processing';
}
