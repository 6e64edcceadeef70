import type { Request, Response } from 'express';
import { composeJson } from '../../common/compose-json';
import { ActiveLimitReached, type ListFilters, ORDER_BY_COLUMNS, type OrderByColumn } from '../../common/db/compose-store';
import type { Queryable } from '../../common/db/database';
import type { ComposeRow, NewCompose } from '../../common/db/entities';
import { isSourceTypeName, isStateName, SOURCE_TYPES, STATES } from '../../common/enums';
import { ApiError, BadRequest, Forbidden, NotFound } from '../../common/errors';
import { composeAttributes, parseComposeRequest, parseRenewRequest } from '../../common/schemas/compose-request';
import type { FrontendContext } from '../context';
import { queryValue, readJsonBody } from '../http';
import { externalBase } from '../proxy-headers';
import { activeComposesExceeded, asksForSecondsToLive, quotaLimit, renewalsExceeded, secondsToLiveWithin } from '../quotas';
import { type Caller, checkCancel, checkComposeAttributes, checkRole, type Decision } from '../permissions';
import { checkScope } from '../auth/scopes';
import { noCredentials } from '../auth';

const DEFAULT_PER_PAGE = 10;
/** Beyond ODCS: a cap, so that one request cannot ask for every row of a large database. */
export const MAX_PER_PAGE = 1000;
const MAX_ID = 2 ** 31 - 1;

/** ODCS's order_by keys; `source_type` is accepted too (ODCS only knows its misspelling `source_Type`). */
const ORDER_BY_ALIASES: Record<string, OrderByColumn> = { source_Type: 'source_type' };

function enforce(decision: Decision): void {
  if (!decision.allowed) throw new Forbidden(decision.message);
}

/** The caller's max_seconds_to_live quota applied to `seconds` (frontend/quotas.ts). */
function quotaSecondsToLive(ctx: FrontendContext, caller: Caller, seconds: number, body: unknown): number {
  return secondsToLiveWithin(caller, quotaLimit(ctx.cfg, caller, 'max_seconds_to_live'), seconds, asksForSecondsToLive(body));
}

/** Creates a compose unless its owner is at the max_active_composes quota (429 then). */
async function createWithinQuota(ctx: FrontendContext, caller: Caller, compose: NewCompose, now: Date, tx?: Queryable): Promise<ComposeRow> {
  const limit = quotaLimit(ctx.cfg, caller, 'max_active_composes');
  try {
    return await ctx.store.create(compose, now, tx, { maxActive: limit?.value });
  } catch (err) {
    if (err instanceof ActiveLimitReached && limit) throw activeComposesExceeded(caller.username, err.active, limit);
    throw err;
  }
}

/** Counts a renewal of compose `id` unless the caller's max_renewals quota is reached (429 then); returns the new count. */
async function countRenewal(ctx: FrontendContext, caller: Caller, id: number, tx?: Queryable): Promise<number> {
  const limit = quotaLimit(ctx.cfg, caller, 'max_renewals');
  const counted = await ctx.store.countRenewal(id, limit?.value ?? null, tx);
  if ('refused' in counted) throw renewalsExceeded(id, counted.refused, limit ?? { value: 0, holder: 'default' });
  return counted.renewals;
}

async function requireCaller(ctx: FrontendContext, req: Request): Promise<Caller> {
  const caller = await ctx.auth.authenticate(req);
  if (!caller) throw noCredentials(ctx.auth);
  return caller;
}

/** A compose id from the URL, or undefined when it cannot name a compose. */
function parseId(raw: string | string[] | undefined): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,10}$/.test(raw)) return undefined;
  const id = Number(raw);
  return id <= MAX_ID ? id : undefined;
}

/**
 * `page` or `per_page`. Like ODCS, a value that is not an integer falls back to the default;
 * beyond ODCS, an integer too large to mean anything (ODCS quietly serves page 1 for it) is a 400.
 */
function integerParam(req: Request, key: string): number | undefined {
  const v = queryValue(req, key)?.trim();
  if (v === undefined || !/^[-+]?\d+$/.test(v)) return undefined;
  const n = Number(v);
  if (Math.abs(n) > MAX_ID) throw new BadRequest(`Invalid ${key} "${v}": it must be an integer between -${MAX_ID} and ${MAX_ID}`);
  return n;
}

/** An enum filter given as a number (ODCS) or, beyond ODCS, by name. */
function enumFilter(key: string, value: string, names: Record<string, number>, isName: (s: string) => boolean): number {
  if (/^\d{1,4}$/.test(value)) return Number(value);
  if (isName(value)) return names[value];
  throw new BadRequest(`Unknown ${key} "${value}"`);
}

function listFilters(req: Request): ListFilters {
  const filters: ListFilters = {};
  const str = (k: string): string | undefined => {
    const v = queryValue(req, k);
    // PostgreSQL text cannot hold NUL, so comparing with it fails (a 500 in ODCS).
    if (v?.includes('\u0000')) throw new BadRequest(`${k} must not contain NUL characters`);
    return v === undefined || v === '' ? undefined : v;
  };
  for (const key of ['owner', 'source', 'pungi_compose_id', 'compose_type', 'label'] as const) {
    const v = str(key);
    if (v !== undefined) filters[key] = v;
  }
  const state = str('state');
  if (state !== undefined) filters.state = enumFilter('state', state, STATES, isStateName);
  const sourceType = str('source_type');
  if (sourceType !== undefined) filters.source_type = enumFilter('source_type', sourceType, SOURCE_TYPES, isSourceTypeName);
  const task = str('koji_task_id');
  if (task !== undefined) {
    if (!/^\d{1,15}$/.test(task)) throw new BadRequest(`Invalid koji_task_id "${task}"`);
    filters.koji_task_id = Number(task);
  }
  return filters;
}

function orderBy(req: Request): { column: OrderByColumn; descending: boolean } {
  const raw = queryValue(req, 'order_by') || '-id';
  const descending = raw.length > 1 && raw.startsWith('-');
  const key = descending ? raw.slice(1) : raw;
  const column = ORDER_BY_ALIASES[key] ?? (ORDER_BY_COLUMNS as readonly string[]).find((c) => c === key);
  if (!column) {
    const keys = ORDER_BY_COLUMNS.map((k) => `'${k}'`).join(', ');
    throw new BadRequest(`An invalid order_by key was suplied, allowed keys are: [${keys}]`);
  }
  return { column: column as OrderByColumn, descending };
}

/** Page links carry every other query argument except page, per_page, endpoint and `_`-prefixed ones. */
function pageLink(ctx: FrontendContext, req: Request, page: number, perPage: number): string {
  const params = new URLSearchParams();
  params.set('per_page', String(perPage));
  params.set('page', String(page));
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (key === 'page' || key === 'per_page' || key === 'endpoint' || key.startsWith('_')) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') params.append(key, v);
  }
  return `${externalBase(ctx.cfg, req)}/api/1/composes/?${params.toString()}`;
}

export async function listComposes(ctx: FrontendContext, req: Request, res: Response): Promise<void> {
  let page = integerParam(req, 'page') ?? 1;
  let perPage = integerParam(req, 'per_page') ?? DEFAULT_PER_PAGE;
  if (page < 1) page = 1;
  if (perPage < 0) perPage = 20;
  perPage = Math.min(perPage, MAX_PER_PAGE);
  const filters = listFilters(req);
  const order = orderBy(req);
  const { rows, total } = await ctx.store.list({
    filters,
    orderBy: order.column,
    descending: order.descending,
    limit: perPage,
    offset: (page - 1) * perPage,
  });
  const pages = perPage === 0 ? 0 : Math.ceil(total / perPage);
  res.set('Access-Control-Allow-Origin', '*');
  res.json({
    items: rows.map((r) => composeJson(ctx.cfg, r)),
    meta: {
      first: pageLink(ctx, req, 1, perPage),
      last: pageLink(ctx, req, pages, perPage),
      next: page < pages ? pageLink(ctx, req, page + 1, perPage) : null,
      prev: page > 1 ? pageLink(ctx, req, page - 1, perPage) : null,
      page,
      pages,
      per_page: perPage,
      total,
    },
  });
}

export async function getCompose(ctx: FrontendContext, req: Request, res: Response): Promise<void> {
  const id = parseId(req.params.id);
  const row = id === undefined ? undefined : await ctx.store.get(id);
  if (!row) throw new NotFound('No such compose found.');
  res.set('Access-Control-Allow-Origin', '*');
  res.json(composeJson(ctx.cfg, row, true));
}

export async function createCompose(ctx: FrontendContext, req: Request, res: Response): Promise<void> {
  const caller = await requireCaller(ctx, req);
  enforce(checkScope(ctx.cfg, caller, 'new-compose'));
  enforce(checkRole(ctx.cfg, caller, 'allowed_clients'));
  const body = await readJsonBody(req);
  const { compose, attributes } = parseComposeRequest(ctx.cfg, body);
  enforce(checkComposeAttributes(ctx.cfg, caller, attributes));
  const seconds_to_live = quotaSecondsToLive(ctx, caller, compose.seconds_to_live, body);
  const row = await createWithinQuota(ctx, caller, { ...compose, owner: caller.username, seconds_to_live }, ctx.clock());
  ctx.outboxWritten();
  res.json(composeJson(ctx.cfg, row));
}

/** A new `wait` compose with the generation inputs of `original` (reference §1.7 step 6). */
function regeneratedCopy(
  original: ComposeRow,
  owner: string,
  changes: { sigkeys: string[]; label: string | null; builds?: string[]; modules?: string[]; seconds_to_live: number },
): NewCompose {
  return {
    owner,
    source_type: original.source_type,
    source: original.source,
    modular_koji_tags: original.modular_koji_tags,
    module_defaults_url: original.module_defaults_url,
    koji_event: original.koji_event,
    sigkeys: changes.sigkeys,
    results: original.results,
    packages: original.packages,
    builds: changes.builds?.length ? changes.builds : original.builds,
    flags: original.flags,
    arches: original.arches,
    multilib_arches: original.multilib_arches,
    multilib_method: original.multilib_method,
    lookaside_repos: original.lookaside_repos,
    label: changes.label,
    compose_type: original.compose_type,
    pungi_config_dump: original.pungi_config_dump,
    target_dir: original.target_dir,
    scratch_modules: original.scratch_modules,
    scratch_build_tasks: original.scratch_build_tasks,
    parent_pungi_compose_ids: original.parent_pungi_compose_ids,
    modules: changes.modules?.length ? changes.modules : original.modules,
    respin_of: original.pungi_compose_id,
    // The copy repeats the original's package versions unless it was asked for other builds or
    // modules (§1.7: "a regenerated compose contains the same package versions").
    renewed_from: changes.builds?.length || changes.modules?.length ? null : (original.renewed_from ?? original.id),
    base_module_br_name: original.base_module_br_name,
    base_module_br_stream: original.base_module_br_stream,
    base_module_br_stream_version_lte: original.base_module_br_stream_version_lte,
    base_module_br_stream_version_gte: original.base_module_br_stream_version_gte,
    seconds_to_live: changes.seconds_to_live,
  };
}

const RENEWABLE_STATES: readonly number[] = [STATES.done, STATES.failed, STATES.removed];

export async function renewCompose(ctx: FrontendContext, req: Request, res: Response): Promise<void> {
  const caller = await requireCaller(ctx, req);
  enforce(checkScope(ctx.cfg, caller, 'renew-compose'));
  enforce(checkRole(ctx.cfg, caller, 'allowed_clients'));
  const id = parseId(req.params.id);
  const body = await readJsonBody(req);
  const renew = parseRenewRequest(ctx.cfg, body);
  // Whether this renewal was counted already (max_renewals): a retry below must not count it again.
  let counted = false;
  // The decision depends on the state, which the beat may change under us; decide again then.
  for (let attempt = 0; attempt < 3; attempt++) {
    const original = id === undefined ? undefined : await ctx.store.get(id);
    if (!original || !RENEWABLE_STATES.includes(original.state)) throw new NotFound(`No compose with id ${req.params.id} found`);
    enforce(checkComposeAttributes(ctx.cfg, caller, composeAttributes(original, undefined)));

    const sigkeys = renew.sigkeys ?? original.sigkeys;
    const label = renew.label ?? original.label;
    const copy =
      original.state !== STATES.done ||
      sigkeys.join(' ') !== original.sigkeys.join(' ') ||
      label !== original.label ||
      renew.modules !== undefined ||
      renew.builds !== undefined;
    const now = ctx.clock();
    const seconds_to_live = quotaSecondsToLive(ctx, caller, renew.secondsToLive(original), body);
    if (copy) {
      // The renewal is counted with the copy's insert: a copy refused by a quota counts nothing.
      const created = await ctx.db.transaction(async (tx) => {
        const renewals = await countRenewal(ctx, caller, original.id, tx);
        const row = await createWithinQuota(ctx, caller, regeneratedCopy(original, caller.username, { ...renew, sigkeys, label, seconds_to_live }), now, tx);
        await ctx.store.carryRenewals(row.id, renewals, tx);
        return row;
      });
      ctx.outboxWritten();
      res.json(composeJson(ctx.cfg, created));
      return;
    }
    if (!counted) await countRenewal(ctx, caller, original.id);
    counted = true;
    const extended = await ctx.store.extend(original.id, new Date(now.getTime() + seconds_to_live * 1000));
    if (extended) {
      res.json(composeJson(ctx.cfg, extended));
      return;
    }
  }
  throw new ApiError(409, `Compose ${req.params.id} changed state while being renewed; try again.`);
}

export async function deleteCompose(ctx: FrontendContext, req: Request, res: Response): Promise<void> {
  const caller = await requireCaller(ctx, req);
  enforce(checkScope(ctx.cfg, caller, 'delete-compose'));
  const id = parseId(req.params.id);
  let row = id === undefined ? undefined : await ctx.store.get(id);
  if (!row) throw new NotFound('No such compose found.');
  const now = ctx.clock();
  if (row.state === STATES.wait) {
    enforce(checkCancel(ctx.cfg, caller, row));
    const cancelled = await ctx.store.cancel(row.id, caller.username, now);
    if (cancelled) {
      ctx.outboxWritten();
      res.status(202).json({ status: 202, message: `Compose (id=${row.id}) has been canceled` });
      return;
    }
    // A worker claimed it first; what is left is a removal request.
    row = (await ctx.store.get(row.id)) as ComposeRow;
  }
  enforce(checkRole(ctx.cfg, caller, 'admins'));
  if (row.state !== STATES.done && row.state !== STATES.failed) {
    throw new BadRequest(`Compose (id=${row.id}) can not be removed, its state need to be in ['done', 'failed'].`);
  }
  if (!(await ctx.store.requestRemoval(row.id, caller.username, now))) {
    throw new BadRequest(`Compose (id=${row.id}) can not be removed, its state need to be in ['done', 'failed'].`);
  }
  res.status(202).json({
    status: 202,
    message: `The delete request for compose (id=${row.id}) has been accepted and will be processed by backend later.`,
  });
}
