import path from 'node:path';
import { ComposePaths, checkArch, composeTopDir } from '../../backend/repo/compose-paths';
import { hashedPath, packageRelativePath } from '../../backend/repo/layout';
import { MAX_COMPOSE_ID, parseWorkMessage } from '../../backend/worker';
import { ComposeError } from '../../common/errors';

const root = '/srv/odcs/odcs-7/.compose.tmp-abcd';
const paths = new ComposePaths(root);

describe('ComposePaths', () => {
  it('builds the paths of a compose tree under its root', () => {
    expect(paths.archRepo('x86_64')).toBe(`${root}/Temporary/x86_64/os`);
    expect(paths.package('x86_64', 'Packages/a/app-1-1.noarch.rpm')).toBe(`${root}/Temporary/x86_64/os/Packages/a/app-1-1.noarch.rpm`);
    expect(paths.repoFile('odcs-7')).toBe(`${root}/Temporary/odcs-7.repo`);
    expect(paths.metadata('rpms.json')).toBe(`${root}/metadata/rpms.json`);
    expect(paths.sourceRepo()).toBe(`${root}/Temporary/source/tree`);
    expect(paths.debugRepo('x86_64')).toBe(`${root}/Temporary/x86_64/debug/tree`);
    expect(paths.packageIn(paths.debugRepo('x86_64'), 'Packages/a/app-debuginfo-1-1.x86_64.rpm')).toBe(
      `${root}/Temporary/x86_64/debug/tree/Packages/a/app-debuginfo-1-1.x86_64.rpm`,
    );
    expect(() => paths.debugRepo('../../..')).toThrow(ComposeError);
    expect(() => paths.packageIn(paths.sourceRepo(), 'repodata/repomd.xml')).toThrow(ComposeError);
  });

  it.each(['..', '.', '', '../../../odcs-21/compose/Temporary/x86_64', 'x86_64/../../..', '__proto__', 'constructor', '$basearch', 'x86_64 '])(
    'refuses the arch %j',
    (arch) => {
      expect(() => paths.archRepo(arch)).toThrow(ComposeError);
      expect(() => checkArch(arch)).toThrow(/is not a known RPM architecture/);
    },
  );

  it.each(['../x.rpm', '../../../../etc/x.rpm', '/etc/x.rpm', 'repodata/repomd.xml', '.', 'Packages/../../os2/x.rpm'])(
    'refuses to place a package at %j',
    (rel) => {
      expect(() => paths.package('x86_64', rel)).toThrow(ComposeError);
    },
  );

  it('refuses metadata names that leave the tree', () => {
    expect(() => paths.metadata('../../odcs-8/x')).toThrow(ComposeError);
    expect(() => paths.repoFile('../../x')).toThrow(ComposeError);
  });

  it('takes only a plain directory name as the compose top directory', () => {
    expect(composeTopDir('/srv/odcs', 'odcs-7')).toBe('/srv/odcs/odcs-7');
    for (const name of ['..', '../odcs-7', 'a/b', '.']) expect(() => composeTopDir('/srv/odcs', name)).toThrow(ComposeError);
  });
});

describe('package paths from repository hrefs', () => {
  it('keeps a plain relative .rpm path and hashes anything else', () => {
    expect(packageRelativePath({ location: 'Packages/app-1-1.noarch.rpm' }, true)).toBe('Packages/app-1-1.noarch.rpm');
    expect(packageRelativePath({ location: 'Packages/../../../x.rpm' }, true)).toBe('Packages/x/x.rpm');
    expect(packageRelativePath({ location: '/etc/x.rpm' }, true)).toBe('Packages/x/x.rpm');
  });

  it('refuses an href that names no file', () => {
    for (const location of ['', 'Packages/..', 'Packages/.']) expect(() => hashedPath({ location })).toThrow(ComposeError);
    expect(path.posix.isAbsolute(hashedPath({ location: '../../A.rpm' }))).toBe(false);
  });
});

describe('work messages', () => {
  it('takes only compose ids PostgreSQL can hold', () => {
    expect(parseWorkMessage(Buffer.from(JSON.stringify({ compose_id: MAX_COMPOSE_ID })))).toBe(2147483647);
    expect(parseWorkMessage(Buffer.from('{"compose_id": 2147483648}'))).toBeUndefined();
    expect(parseWorkMessage(Buffer.from('{"compose_id": 0}'))).toBeUndefined();
    expect(parseWorkMessage(Buffer.from('{"compose_id": 1.5}'))).toBeUndefined();
  });
});
