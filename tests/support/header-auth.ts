import type { AuthBackend } from '../../frontend/auth';
import { Unauthorized } from '../../common/errors';

/**
 * A stand-in for the real authentication backends (a later issue), so that API tests can act
 * as different users: `X-Test-User: alice` and `X-Test-Groups: g1,g2`. Without the header the
 * request is unauthenticated, like a request without credentials.
 */
export const headerAuth: AuthBackend = {
  name: 'test-header',
  async authenticate(req) {
    const user = req.headers['x-test-user'];
    if (typeof user !== 'string' || user === '') return undefined;
    if (user === 'invalid') throw new Unauthorized('Cannot verify client: FAILED');
    const groups = typeof req.headers['x-test-groups'] === 'string' ? req.headers['x-test-groups'].split(',').filter(Boolean) : [];
    // Stands for a verified identity from a trusted proxy's headers, the closest real backend.
    return { username: user, groups, anonymous: false, via: 'ssl' };
  },
};
