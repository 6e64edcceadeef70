/**
 * The permission rules of reference §4.3–4.4 (and the cancel/remove rules of §1.6, the renewal of
 * §1.7) run over HTTP, so that every authentication backend shows the same answers with its own
 * way of being a user (a client certificate, a bearer token, a Kerberos ticket, a test header).
 *
 * Use, inside a test file:
 *
 *   const config = permissionMatrixConfig((u) => u);           // or ssl: (u) => dnOf(u)
 *   let t: TestStack;
 *   beforeAll(async () => { t = await startTestStack({ config: { ...config, auth_backend: ... } }); });
 *   describePermissionMatrix(() => ({ stack: t, send: mySend, groups: true, usernameOf: (u) => u,
 *                                     noCredentials: 'REMOTE_USER is not present in request.' }));
 *
 * `send(user, method, path, body)` makes the request as `user` (one of MATRIX_USERS, carrying the
 * groups of MATRIX_GROUPS when the backend has groups), or without any credentials when `user` is
 * undefined. The stack must run WITHOUT a worker: the cancel cases need composes that stay in
 * `wait`.
 */
import { STATUS_CODES } from 'node:http';
import type { describe as jestDescribe, expect as jestExpect, it as jestIt } from '@jest/globals';
import type { ConfigInput } from '../../common/config';
import { SECTION_4_4 } from './permission-config';
import { snapshot } from './refusals';
import type { TestStack } from './stack';

// Jest's globals, declared because tests/support is also compiled without Jest's global types
// (tsconfig.build.json); the import above is erased, nothing is loaded at run time.
declare const expect: typeof jestExpect;
declare const describe: typeof jestDescribe;
declare const it: typeof jestIt;

/** Every user the matrix acts as. Backends provision exactly these (certificates, principals, accounts). */
export const MATRIX_USERS = ['dev', 'dev2', 'dev3', 'dev4', 'qa', 'gina', 'carl', 'root', 'alice'] as const;
export type MatrixUser = (typeof MATRIX_USERS)[number];

/**
 * The groups each user is in, for backends that carry groups (LDAP for Kerberos, UserInfo for
 * OIDC, X-Test-Groups for the test header). `dev3` in `dev2` is §4.4's "user entry wins" example;
 * `gina` shows the union of groups, `carl` a group-only client, `alice` an admin by group.
 */
export const MATRIX_GROUPS: Readonly<Record<MatrixUser, readonly string[]>> = {
  dev: [],
  dev2: [],
  dev3: ['dev2'],
  dev4: [],
  qa: ['nobody'],
  gina: ['dev2', 'dev3'],
  carl: ['composer'],
  root: [],
  alice: ['admins-group'],
};

export type MatrixMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface MatrixResponse {
  status: number;
  body: unknown;
}

/** Makes one request as `user` (undefined: without credentials); the body is JSON when given. */
export type MatrixSend = (user: MatrixUser | undefined, method: MatrixMethod, path: string, body?: unknown) => Promise<MatrixResponse>;

export interface MatrixTarget {
  stack: TestStack;
  send: MatrixSend;
  /** The username the backend gives a matrix user (ssl: the certificate's subject DN). */
  usernameOf: (user: MatrixUser) => string;
  /** Whether the backend carries groups; ssl does not, and then the group cases are skipped. */
  groups: boolean;
  /** The 401 message of a mutating request without credentials under this backend (§4.1). */
  noCredentials: string;
}

/**
 * §4.4's configuration with the users renamed as the backend names them (ssl: DNs), and `root`
 * an admin that also has a narrow client entry (the admin bypass must win over it, ODCS 0.7+).
 */
export function permissionMatrixConfig(usernameOf: (user: MatrixUser) => string = (u) => u): ConfigInput {
  const rename = <T>(entries: Record<string, T>): Record<string, T> =>
    Object.fromEntries(Object.entries(entries).map(([name, value]) => [usernameOf(name as MatrixUser), value]));
  return {
    ...SECTION_4_4,
    allowed_clients: {
      users: rename({ ...SECTION_4_4.allowed_clients?.users, root: { source_types: ['tag'] } }),
      groups: SECTION_4_4.allowed_clients?.groups ?? {},
    },
    admins: { users: [usernameOf('root')], groups: ['admins-group'] },
  };
}

const TAG = { type: 'tag', source: 'f30-build' };
const MODULE = { type: 'module', source: 'testmodule:master' };

interface Refusal {
  user: MatrixUser;
  body: unknown;
  /** The message, `{u}` standing for the backend's username of `user`. */
  message: string;
  /** Whether the outcome depends on the user's groups. */
  needsGroups?: boolean;
}

/** §4.3–4.4: what POST refuses with 403, and why. */
const POST_REFUSALS: Refusal[] = [
  { user: 'qa', body: { source: TAG }, message: 'User {u} is not in role allowed_clients.' },
  { user: 'dev', body: { source: { type: 'repo', source: '/srv/repos/base' } }, message: 'User {u} not allowed to operate with compose with source_types=repo.' },
  { user: 'dev', body: { source: TAG, target_dir: 'releng-private' }, message: 'User {u} not allowed to operate with compose with target_dirs=releng-private.' },
  { user: 'dev', body: { source: TAG, arches: ['s390', 'aarch64'] }, message: 'User {u} not allowed to operate with compose with arches=aarch64.' },
  { user: 'dev2', body: { source: MODULE, compose_type: 'production' }, message: 'User {u} not allowed to operate with compose with compose_types=production.' },
  { user: 'dev4', body: { source: { type: 'raw_config', source: 'pungi_cfg#abc' } }, message: 'User {u} not allowed to operate with compose with raw_config_keys=pungi_cfg.' },
  // The user entry wins over the group dev2, which would allow a module compose (with groups);
  // without groups the user entry decides alone, with the same answer.
  { user: 'dev3', body: { source: MODULE }, message: 'User {u} not allowed to operate with compose with source_types=module.' },
  { user: 'gina', body: { source: TAG }, message: 'User {u} not allowed to operate with compose with source_types=tag.', needsGroups: true },
];

interface Grant {
  user: MatrixUser;
  body: unknown;
  needsGroups?: boolean;
}

/** §4.4: what POST accepts; the new compose is owned by the caller. */
const POST_GRANTS: Grant[] = [
  { user: 'dev', body: { source: TAG, arches: ['ppc64', 's390'] } },
  { user: 'dev2', body: { source: MODULE, compose_type: 'nightly' } },
  { user: 'dev3', body: { source: TAG, target_dir: 'releng-private' } },
  { user: 'dev4', body: { source: { type: 'raw_config', source: 'pungi_cfg2#abc' } } },
  { user: 'gina', body: { source: MODULE }, needsGroups: true },
  { user: 'gina', body: { source: { type: 'raw_config', source: 'pungi_cfg#abc' } }, needsGroups: true },
  { user: 'carl', body: { source: TAG }, needsGroups: true },
  // An admin passes the attribute checks whatever its client entry says (ODCS 0.7+).
  { user: 'root', body: { source: { type: 'repo', source: '/srv/repos/base' }, arches: ['aarch64'], target_dir: 'releng-private' } },
];

function errorBody(status: number, message: string): { status: number; error: string | undefined; message: string } {
  return { status, error: STATUS_CODES[status], message };
}

/** Defines the matrix's tests in the current describe block; `target()` is read when they run. */
export function describePermissionMatrix(target: () => MatrixTarget): void {
  const msg = (m: string, user: MatrixUser): string => m.replace('{u}', target().usernameOf(user));

  /** Sends a request that must be refused, and checks that it changed nothing. */
  async function expectRefusal(user: MatrixUser | undefined, method: MatrixMethod, path: string, body: unknown, status: number, message: string): Promise<void> {
    const { stack, send } = target();
    const before = await snapshot(stack);
    const res = await send(user, method, path, body);
    expect({ status: res.status, body: res.body }).toEqual({ status, body: errorBody(status, message) });
    expect(await snapshot(stack)).toEqual(before);
  }

  /** Creates a compose as `user` (which must be allowed to) and returns its id. */
  async function create(user: MatrixUser, body: unknown = { source: TAG }): Promise<number> {
    const res = await target().send(user, 'POST', '/api/1/composes/', body);
    expect(res.status).toBe(200);
    return (res.body as { id: number }).id;
  }

  /** A compose of `dev` in state failed (cancelled by its owner): removable and renewable. */
  async function failedCompose(): Promise<number> {
    const id = await create('dev');
    const res = await target().send('dev', 'DELETE', `/api/1/composes/${id}`);
    expect(res.status).toBe(202);
    return id;
  }

  const withGroups = (needsGroups: boolean | undefined) => (needsGroups ? (target().groups ? 'run' : 'skip') : 'run');

  describe('permission matrix (§4.1, §4.3, §4.4, §1.6, §1.7) over HTTP', () => {
    it('serves GETs without credentials and refuses mutating requests without them (401)', async () => {
      const { send, noCredentials } = target();
      const list = await send(undefined, 'GET', '/api/1/composes/');
      expect(list.status).toBe(200);
      expect((await send(undefined, 'GET', '/api/1/about/')).status).toBe(200);
      const id = await create('dev');
      await expectRefusal(undefined, 'POST', '/api/1/composes/', { source: TAG }, 401, noCredentials);
      await expectRefusal(undefined, 'PATCH', `/api/1/composes/${id}`, {}, 401, noCredentials);
      await expectRefusal(undefined, 'DELETE', `/api/1/composes/${id}`, undefined, 401, noCredentials);
    });

    it.each(POST_REFUSALS.map((r) => [r.user, r.message, r] as const))('POST as %s is refused: %s', async (_user, _message, r) => {
      if (withGroups(r.needsGroups) === 'skip') return;
      await expectRefusal(r.user, 'POST', '/api/1/composes/', r.body, 403, msg(r.message, r.user));
    });

    it.each(POST_GRANTS.map((g) => [g.user, JSON.stringify(g.body), g] as const))('POST as %s of %s is accepted, owned by the caller', async (_user, _body, g) => {
      if (withGroups(g.needsGroups) === 'skip') return;
      const { stack, send, usernameOf } = target();
      const res = await send(g.user, 'POST', '/api/1/composes/', g.body);
      expect({ status: res.status, owner: (res.body as { owner?: string }).owner }).toEqual({ status: 200, owner: usernameOf(g.user) });
      expect(await stack.s.store.get((res.body as { id: number }).id)).toMatchObject({ owner: usernameOf(g.user), state: 0 });
    });

    // ODCS prints a literal %s; this project fills in the id (frontend/permissions.ts checkCancel).
    it("refuses to cancel someone else's waiting compose; the owner may", async () => {
      const id = await create('dev');
      await expectRefusal('dev3', 'DELETE', `/api/1/composes/${id}`, undefined, 403, `Compose (id=${id}) can not be canceled, it's owned by someone else.`);
      const res = await target().send('dev', 'DELETE', `/api/1/composes/${id}`);
      expect({ status: res.status, body: res.body }).toEqual({ status: 202, body: { status: 202, message: `Compose (id=${id}) has been canceled` } });
      expect(await target().stack.s.store.get(id)).toMatchObject({ state: 4, state_reason: `Canceled by ${target().usernameOf('dev')}` });
    });

    it('lets an admin by name cancel any waiting compose', async () => {
      const id = await create('dev');
      const res = await target().send('root', 'DELETE', `/api/1/composes/${id}`);
      expect(res.status).toBe(202);
      expect(await target().stack.s.store.get(id)).toMatchObject({ state: 4, state_reason: `Canceled by ${target().usernameOf('root')}` });
    });

    it('lets an admin by group cancel any waiting compose', async () => {
      if (!target().groups) return;
      const id = await create('dev');
      const res = await target().send('alice', 'DELETE', `/api/1/composes/${id}`);
      expect(res.status).toBe(202);
      expect(await target().stack.s.store.get(id)).toMatchObject({ state: 4, state_reason: `Canceled by ${target().usernameOf('alice')}` });
    });

    it('lets only admins remove a finished compose, not even its owner', async () => {
      const id = await failedCompose();
      await expectRefusal('dev', 'DELETE', `/api/1/composes/${id}`, undefined, 403, `User ${target().usernameOf('dev')} is not in role admins.`);
      await expectRefusal('qa', 'DELETE', `/api/1/composes/${id}`, undefined, 403, `User ${target().usernameOf('qa')} is not in role admins.`);
      const res = await target().send('root', 'DELETE', `/api/1/composes/${id}`);
      expect(res.status).toBe(202);
      const row = await target().stack.s.store.get(id);
      expect(row?.removed_by).toBe(target().usernameOf('root'));
    });

    it('lets an admin by group remove a finished compose', async () => {
      if (!target().groups) return;
      const id = await failedCompose();
      const res = await target().send('alice', 'DELETE', `/api/1/composes/${id}`);
      expect(res.status).toBe(202);
      expect((await target().stack.s.store.get(id))?.removed_by).toBe(target().usernameOf('alice'));
    });

    it('checks role and attributes on renewal; the copy is owned by the caller', async () => {
      const id = await failedCompose();
      const path = `/api/1/composes/${id}`;
      await expectRefusal('qa', 'PATCH', path, {}, 403, `User ${target().usernameOf('qa')} is not in role allowed_clients.`);
      // dev2 may only have module and raw_config composes; this one is a tag compose.
      await expectRefusal('dev2', 'PATCH', path, {}, 403, `User ${target().usernameOf('dev2')} not allowed to operate with compose with source_types=tag.`);
      const res = await target().send('dev3', 'PATCH', path, {});
      expect(res.status).toBe(200);
      const copy = res.body as { id: number; owner: string };
      expect(copy.id).not.toBe(id);
      expect(copy.owner).toBe(target().usernameOf('dev3'));
      expect(await target().stack.s.store.get(copy.id)).toMatchObject({ owner: target().usernameOf('dev3'), state: 0 });
    });
  });
}
