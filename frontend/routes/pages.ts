import type { Request, Response } from 'express';
import type { FrontendContext } from '../context';

const ROUTES: Array<[string, string, string]> = [
  ['GET', '/api/1/composes/', 'List composes; filters owner, source_type, source, state, koji_task_id, pungi_compose_id, compose_type, label; order_by, page, per_page'],
  ['POST', '/api/1/composes/', 'Request a compose'],
  ['GET', '/api/1/composes/<id>', 'One compose, with pungi_config_dump'],
  ['PATCH', '/api/1/composes/<id>', 'Renew (extend) or regenerate a compose'],
  ['DELETE', '/api/1/composes/<id>', 'Cancel a waiting compose, or ask for removal of a finished one'],
  ['GET', '/api/1/about/', 'Server version and public configuration'],
  ['GET', '/api/1/metrics/', 'Prometheus metrics'],
];

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

/** GET / : the index page ODCS serves. */
export function index(ctx: FrontendContext, _req: Request, res: Response): void {
  res.type('html').send(
    page(
      'On Demand Compose Service',
      `<h1>On Demand Compose Service</h1><p>Version ${ctx.version}. The API lives under <a href="api/1/">/api/1/</a>.</p>`,
    ),
  );
}

/** GET /api/1/ : the API's own documentation page. */
export function apiDocs(_ctx: FrontendContext, _req: Request, res: Response): void {
  const rows = ROUTES.map(([m, p, d]) => `<tr><td>${m}</td><td><code>${p.replace(/</g, '&lt;')}</code></td><td>${d}</td></tr>`).join('');
  res.type('html').send(page('ODCS API', `<h1>ODCS API v1</h1><table>${rows}</table>`));
}
