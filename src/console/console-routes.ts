import type { FastifyInstance, FastifyReply } from 'fastify';
import { adminGuard } from '../api/admin-auth.js';
import type { ApiDeps } from '../api/api-deps.js';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { esc } from '../util/html.js';
import { chartJsSource } from '../validation/chart-library.js';
import { CHART_SCRIPT } from '../validation/report-charts.js';
import type { ConsoleDeps } from './console-deps.js';
import { modelsData } from './models-data.js';
import { overviewData } from './overview-data.js';
import { CONSOLE_PATH, layout, modelsPage, overviewPage, patientPage, reportPage, reviewPage } from './pages.js';
import { patientData } from './patient-data.js';
import { reviewData } from './review-data.js';

/** Report ids as `fhir-assess validate` makes them. */
const REPORT_ID = /^vr-\d{8}-[0-9a-f]{12}$/;

const page = (reply: FastifyReply, html: string, status = 200) =>
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);

/**
 * The operator console at /console (server-rendered pages; Chart.js served from node_modules), behind
 * the same admin authentication as the queue dashboard. Read only: it never writes to the EHR.
 */
export async function consoleRoutes(app: FastifyInstance, api: ApiDeps, deps: ConsoleDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(api, 'the operator console', 'fhir-assess console'));
    scope.get(CONSOLE_PATH, async (_req, reply) => page(reply, overviewPage(await overviewData(deps))));
    scope.get(`${CONSOLE_PATH}/models`, async (_req, reply) =>
      page(reply, modelsPage(await modelsData(deps), deps.driftThreshold, !!deps.reports)),
    );
    scope.get<{ Params: { id: string } }>(`${CONSOLE_PATH}/models/reports/:id`, async (req, reply) => {
      const report = REPORT_ID.test(req.params.id) ? await deps.reports?.get(req.params.id) : undefined;
      if (!report)
        return page(
          reply,
          layout(
            'Not found',
            '/models',
            `<p class="warning">${esc(`no stored validation report '${req.params.id}'`)}</p>`,
          ),
          404,
        );
      return page(reply, reportPage(report));
    });
    scope.get<{ Params: { id: string } }>(`${CONSOLE_PATH}/api/reports/:id`, async (req, reply) => {
      const report = REPORT_ID.test(req.params.id) ? await deps.reports?.get(req.params.id) : undefined;
      if (!report)
        return reply
          .code(404)
          .type('application/json')
          .send({ error: `no stored validation report '${req.params.id}'` });
      return reply.type('application/json').send(report);
    });
    scope.get(`${CONSOLE_PATH}/review`, async (_req, reply) => page(reply, reviewPage(await reviewData(deps))));
    scope.get<{ Querystring: { id?: string } }>(`${CONSOLE_PATH}/patient`, async (req, reply) => {
      const id = req.query.id?.trim().replace(/^Patient\//, '');
      if (!id) return page(reply, patientPage(undefined));
      if (!FHIR_ID.test(id)) return page(reply, patientPage(id, undefined, `'${id}' is not a FHIR id`), 400);
      try {
        return page(reply, patientPage(id, await patientData(deps, id)));
      } catch (err) {
        return page(
          reply,
          patientPage(id, undefined, `Patient/${id} could not be read: ${(err as Error).message}`),
          404,
        );
      }
    });
    scope.get(`${CONSOLE_PATH}/assets/chart.umd.js`, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(chartJsSource()),
    );
    scope.get(`${CONSOLE_PATH}/assets/charts.js`, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').send(CHART_SCRIPT),
    );
  });
}
