import type { Request, Response } from 'express';
import { BadRequest } from '../../common/errors';
import type { FrontendContext } from '../context';

/** GET /api/1/about/ (reference §1.8). */
export function about(ctx: FrontendContext, _req: Request, res: Response): void {
  const items = {
    version: ctx.version,
    auth_backend: ctx.cfg.auth_backend,
    allowed_clients: ctx.cfg.allowed_clients,
    raw_config_urls: ctx.cfg.raw_config_urls,
    sigkeys: ctx.cfg.sigkeys,
  };
  for (const [name, value] of Object.entries(items)) {
    if (value === null || value === undefined) throw new BadRequest(`An invalid config item of "${name}" was specified`);
  }
  res.set('Access-Control-Allow-Origin', '*');
  res.json(items);
}

/** GET /api/1/metrics/ (reference §1.9, §10.2). */
export async function metrics(ctx: FrontendContext, _req: Request, res: Response): Promise<void> {
  const text = await ctx.metrics.registry.metrics();
  res.set('Access-Control-Allow-Origin', '*');
  res.type(ctx.metrics.registry.contentType).send(text);
}
