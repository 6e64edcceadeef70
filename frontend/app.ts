import express, { type NextFunction, type Request, type Response } from 'express';
import { isDatabaseUnavailable } from '../common/db/database';
import { ApiError, ServiceUnavailable } from '../common/errors';
import { composeTreeRouter } from './compose-tree';
import type { FrontendContext } from './context';
import { about, metrics } from './routes/about';
import { createCompose, deleteCompose, getCompose, listComposes, renewCompose } from './routes/composes';
import { apiDocs, index } from './routes/pages';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Handler = (ctx: FrontendContext, req: Request, res: Response) => unknown;

const NOT_FOUND_MESSAGE =
  'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';

/**
 * Builds the Express application (no listen). Routes are exact, trailing slashes included, as
 * in ODCS; a collection path without its slash redirects; unknown paths and methods get JSON
 * 404/405 (ODCS answers those with a 500, reference §1.2).
 */
export function createApp(ctx: FrontendContext): express.Express {
  const app = express();
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      ctx.metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      ctx.metrics.duration.observe({ method: req.method, route }, seconds);
    });
    next();
  });

  const route = (path: string, handlers: Partial<Record<Method, Handler>>): void => {
    const methods = Object.keys(handlers) as Method[];
    const allow = [...methods, ...(handlers.GET ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    app.all(path, async (req, res) => {
      if (req.method === 'OPTIONS') {
        res.set('Allow', allow).status(200).end();
        return;
      }
      const handler = handlers[req.method as Method] ?? (req.method === 'HEAD' ? handlers.GET : undefined);
      if (!handler) throw new ApiError(405, 'The method is not allowed for the requested URL.', { Allow: allow });
      await handler(ctx, req, res);
    });
  };
  const redirectToSlash = (path: string): void => {
    app.all(path, (req, res) => {
      const query = req.originalUrl.slice(req.path.length);
      res.redirect(308, `${req.baseUrl}${req.path}/${query}`);
    });
  };

  route('/', { GET: index });
  route('/api/1/', { GET: apiDocs });
  route('/api/1/composes/', { GET: listComposes, POST: createCompose });
  route('/api/1/composes/:id', { GET: getCompose, PATCH: renewCompose, DELETE: deleteCompose });
  route('/api/1/about/', { GET: about });
  route('/api/1/metrics/', { GET: metrics });
  redirectToSlash('/api/1/composes');
  redirectToSlash('/api/1/about');
  redirectToSlash('/api/1/metrics');
  redirectToSlash('/api/1');

  if (ctx.serveTargetDirAt) app.use(ctx.serveTargetDirAt, composeTreeRouter(ctx.cfg.target_dir));

  app.use((_req: Request, _res: Response, next: NextFunction) => next(new ApiError(404, NOT_FOUND_MESSAGE)));

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let error: ApiError;
    if (err instanceof ApiError) {
      error = err;
    } else if (isDatabaseUnavailable(err)) {
      error = new ServiceUnavailable('The database is unavailable at the moment; try again later.');
      ctx.log.warn({ err: (err as Error).message, path: req.path }, 'database unavailable');
    } else if (err instanceof URIError) {
      // The router could not percent-decode the path (`%ZZ`, a cut UTF-8 sequence): such a path
      // names nothing, and Werkzeug answers it 404 in ODCS.
      error = new ApiError(404, NOT_FOUND_MESSAGE);
    } else if (isBodyParserError(err)) {
      error = new ApiError(err.status, err.message);
    } else {
      ctx.log.error({ err, path: req.path, method: req.method }, 'unhandled error');
      error = new ApiError(500, 'An unexpected error occurred; it has been logged.');
    }
    if (res.headersSent) return;
    res.status(error.status).set(error.headers).json(error.toJSON());
  });

  return app;
}

function isBodyParserError(err: unknown): err is { status: number; message: string } {
  const e = err as { status?: unknown; expose?: unknown };
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
}
