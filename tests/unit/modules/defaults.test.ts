/**
 * Module defaults (issue 12 item 10): what a compose's module_defaults_url may name, and how the
 * modulemd-defaults documents of a checkout are picked for modules.yaml. The fetch itself runs
 * against a real git repository in tests/e2e/module-scratch-defaults.test.ts.
 */
import { ComposeError } from '../../../common/errors';
import { defaultsDocuments, defaultsFor, moduleDefaultsLocation } from '../../../backend/modules/defaults';

const cfg = { allowed_module_defaults_hosts: ['git.example.com', 'src.example.org:9418'] };

describe('moduleDefaultsLocation', () => {
  it('splits the stored "<url> <commit>" of an allowed host', () => {
    expect(moduleDefaultsLocation(cfg, 'https://git.example.com/defaults.git 0123abcd')).toEqual({ url: 'https://git.example.com/defaults.git', commit: '0123abcd' });
    expect(moduleDefaultsLocation(cfg, 'git://src.example.org:9418/d.git f33')).toEqual({ url: 'git://src.example.org:9418/d.git', commit: 'f33' });
  });

  it.each([
    ['https://evil.example.net/d.git main', 'Module defaults URL "https://evil.example.net/d.git" is not allowed: its host is not in allowed_module_defaults_hosts.'],
    ['git://src.example.org/d.git main', 'Module defaults URL "git://src.example.org/d.git" is not allowed: its host is not in allowed_module_defaults_hosts.'],
    ['file:///etc/d.git main', 'Module defaults URL "file:///etc/d.git" is not allowed: only http, https and git:// repositories can be fetched.'],
    ['ssh://git.example.com/d.git main', 'Module defaults URL "ssh://git.example.com/d.git" is not allowed: only http, https and git:// repositories can be fetched.'],
    ['ext::sh -c touch% /tmp/x main', 'Invalid module defaults "ext::sh -c touch% /tmp/x main": expected "<git url> <commit>".'],
    ['https://git.example.com/d.git --upload-pack=touch', 'Invalid module defaults commit "--upload-pack=touch".'],
    ['https://git.example.com/d.git a..b', 'Invalid module defaults commit "a..b".'],
    ['https://git.example.com/d.git', 'Invalid module defaults "https://git.example.com/d.git": expected "<git url> <commit>".'],
  ])('refuses %s', (field, message) => {
    expect(() => moduleDefaultsLocation(cfg, field)).toThrow(new ComposeError(message));
  });
});

describe('defaultsDocuments and defaultsFor', () => {
  const file = [
    '---',
    'document: modulemd-defaults',
    'version: 1',
    'data:',
    '  module: b',
    '  stream: "2"',
    '  profiles:',
    '    "2": [default]',
    '...',
    '---',
    'document: modulemd',
    'version: 2',
    'data: {name: x, stream: s, version: 1, context: c, summary: s, description: d, license: {module: [MIT]}}',
    '...',
    '---',
    'document: modulemd-defaults',
    'version: 1',
    'data:',
    '  module: a',
    '  stream: "1"',
    '...',
    '',
  ].join('\n');

  it('keeps the modulemd-defaults documents by module, each a whole YAML document', () => {
    const docs = new Map(defaultsDocuments(file, 'f.yaml'));
    expect([...docs.keys()]).toEqual(['b', 'a']);
    expect(docs.get('a')).toMatch(/^---\ndocument: modulemd-defaults\n[\s\S]*module: a\n[\s\S]*\.\.\.\n$/);
  });

  it("gives only the compose's modules, in name order, once each", () => {
    const docs = new Map(defaultsDocuments(file, 'f.yaml'));
    const out = defaultsFor(docs, ['b', 'zzz', 'a', 'b']);
    expect(out.indexOf('module: a')).toBeLessThan(out.indexOf('module: b'));
    expect(out.match(/document: modulemd-defaults/g)).toHaveLength(2);
    expect(defaultsFor(docs, ['x'])).toBe('');
  });

  it('fails on invalid YAML or a document without a module, naming the file', () => {
    expect(() => defaultsDocuments('document: [', 'bad.yaml')).toThrow(/^Module defaults: invalid YAML in bad\.yaml: /);
    expect(() => defaultsDocuments('document: modulemd-defaults\nversion: 1\ndata: {stream: x}\n', 'x.yaml')).toThrow('Module defaults: a document of x.yaml names no module.');
  });
});
