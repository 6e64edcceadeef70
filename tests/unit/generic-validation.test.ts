import { ApiError } from '../../common/errors';
import { ALLOWED_CHARS, validateJsonData } from '../../common/schemas/generic';

/**
 * ODCS's generic structural check of a request body (reference §1.5.1 step 3), with the exact
 * messages of Appendix A.
 */

const CHARS_MESSAGE =
  "Only alphanumerical characters and [' ', '-', '/', '_', '.', ':', '#', '+', '?', '$', '~'] characters are allowed in ODCS input variables";
const DICT_MESSAGE = "Only 'source' key is allowed to contain dict.";
const noneMessage = (key: string): string =>
  `Only dict, list, str, unicode, int, float and bool types are allowed in ODCS input variables, but '${key}' has '<class 'NoneType'>' type`;

/** The 400 message validateJsonData gives for `data`, or undefined when it passes. */
function rejection(data: unknown): string | undefined {
  try {
    validateJsonData(data);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    return (err as Error).message;
  }
}

const tag = { type: 'tag', source: 'f30-build' };

describe('validateJsonData', () => {
  it('accepts a typical request', () => {
    expect(
      rejection({
        source: {
          type: 'tag',
          source: 'f30-build',
          packages: ['bash', 'python3-dnf'],
          builds: ['bash-5.0-1.fc30'],
          sigkeys: ['', 'deadbeef'],
          koji_event: 12345,
          modules: ['foo:1:2:c0ffee'],
          scratch_modules: [],
          scratch_build_tasks: ['123'],
          base_module_br_name: 'platform',
          base_module_br_stream: 'f30',
          base_module_br_stream_version_lte: 300000,
          base_module_br_stream_version_gte: 290000,
        },
        seconds_to_live: 3600,
        flags: ['no_deps', 'check_deps'],
        results: ['repository', 'boot.iso'],
        arches: ['x86_64', 'ppc64le'],
        multilib_method: ['runtime', 'devel'],
        label: 'Beta-1.0',
        compose_type: 'test',
        target_dir: 'default',
        lookaside_repos: ['http://example.com/repo/$basearch/os'],
        ratio: 1.5,
        ok: true,
      }),
    ).toBeUndefined();
  });

  describe.each(['builds', 'multilib_method', 'packages', 'scratch_build_tasks', 'scratch_modules', 'sigkeys', 'modules'])(
    'list key %s',
    (key) => {
      it.each([['a string', 'x'], ['a number', 1], ['a boolean', true], ['null', null]])('rejects %s', (_what, value) => {
        expect(rejection({ source: { ...tag, [key]: value } })).toBe(`${key} should be a list`);
        // Wherever it appears, top level included.
        expect(rejection({ source: tag, [key]: value })).toBe(`${key} should be a list`);
      });
      it('accepts a list', () => {
        expect(rejection({ source: { ...tag, [key]: ['a'] } })).toBeUndefined();
      });
    },
  );

  describe.each(['base_module_br_name', 'base_module_br_stream', 'compose_type', 'label', 'target_dir', 'type'])('string key %s', (key) => {
    it.each([['a number', 5], ['a list', ['x']], ['a boolean', false], ['null', null]])('rejects %s', (_what, value) => {
      expect(rejection({ source: tag, [key]: value })).toBe(`${key} should be a string`);
    });
  });

  describe.each(['seconds_to_live', 'koji_event', 'base_module_br_stream_version_lte', 'base_module_br_stream_version_gte'])(
    'integer key %s',
    (key) => {
      it.each([['a string', '10'], ['a float', 1.5], ['a list', [1]], ['null', null]])('rejects %s', (_what, value) => {
        expect(rejection({ source: { ...tag, [key]: value } })).toBe(`${key} should be an integer`);
      });
      it('accepts integers and booleans (Python bools are ints)', () => {
        expect(rejection({ source: { ...tag, [key]: 7 } })).toBeUndefined();
        expect(rejection({ source: { ...tag, [key]: -7 } })).toBeUndefined();
        expect(rejection({ source: { ...tag, [key]: true } })).toBeUndefined();
      });
    },
  );

  it('allows a dict only under the top-level key source', () => {
    expect(rejection({ source: tag, extra: { a: 1 } })).toBe(DICT_MESSAGE);
    expect(rejection({ source: { ...tag, nested: { a: 1 } } })).toBe(DICT_MESSAGE);
    expect(rejection({ source: { ...tag, source: { a: 1 } } })).toBe(DICT_MESSAGE);
    expect(rejection({ source: tag, arches: [{ a: 'b' }] })).toBe(DICT_MESSAGE);
    expect(rejection({ source: [{ type: 'tag' }] })).toBe(DICT_MESSAGE);
    expect(rejection({ source: tag, empty: {} })).toBe(DICT_MESSAGE);
  });

  it('restricts the characters of every string value', () => {
    expect(ALLOWED_CHARS).toEqual([' ', '-', '/', '_', '.', ':', '#', '+', '?', '$', '~']);
    // Every allowed character, Unicode letters and digits.
    expect(rejection({ source: { type: 'tag', source: 'a-b/c_d.e:f#g+h?i$j~k l' } })).toBeUndefined();
    expect(rejection({ source: tag, label: 'kůň-日本-٣' })).toBeUndefined();
    for (const bad of ['a=b', 'a&b', '50%', 'me@host', 'a,b', '{x}', '"q"', "'q'", 'a\nb', 'a\tb', 'a;b', 'a|b', 'a*b', 'a\\b', '😀']) {
      expect([bad, rejection({ source: tag, label: bad })]).toEqual([bad, CHARS_MESSAGE]);
    }
    // In lists and in the source dict too.
    expect(rejection({ source: tag, arches: ['x86_64', 'x=y'] })).toBe(CHARS_MESSAGE);
    expect(rejection({ source: { type: 'tag', source: 'https://example.com/?a=b' } })).toBe(CHARS_MESSAGE);
    expect(rejection({ source: { ...tag, sigkeys: ['a@b'] } })).toBe(CHARS_MESSAGE);
  });

  it('does not check strings directly inside a packages list', () => {
    expect(rejection({ source: { ...tag, packages: ['foo = 1.0', 'bar>=2', 'a@b', 'x,y', "it's"] } })).toBeUndefined();
    expect(rejection({ source: tag, packages: ['foo=1'] })).toBeUndefined();
    // ...but only those: a list nested in packages, or other keys, are checked.
    expect(rejection({ source: { ...tag, packages: [['foo=1']] } })).toBe(CHARS_MESSAGE);
    expect(rejection({ source: { ...tag, builds: ['foo=1'] } })).toBe(CHARS_MESSAGE);
  });

  it('does not check the characters of keys', () => {
    expect(rejection({ source: tag, 'odd=key&': 1 })).toBeUndefined();
  });

  it('rejects null anywhere, naming the key (or the list index)', () => {
    expect(rejection({ source: tag, respin_of: null })).toBe(noneMessage('respin_of'));
    expect(rejection({ source: { ...tag, module_defaults_url: null } })).toBe(noneMessage('module_defaults_url'));
    expect(rejection({ source: null })).toBe(noneMessage('source'));
    expect(rejection({ source: tag, arches: [null] })).toBe(noneMessage('0'));
    expect(rejection({ source: tag, arches: ['x86_64', 'ppc64le', null] })).toBe(noneMessage('2'));
    expect(rejection({ source: { ...tag, packages: ['bash', null] } })).toBe(noneMessage('1'));
    expect(rejection([null])).toBe(noneMessage('0'));
  });

  it('reports the first problem in document order', () => {
    expect(rejection({ source: tag, label: 'a=b', flags: [null] })).toBe(CHARS_MESSAGE);
    expect(rejection({ source: tag, flags: [null], label: 'a=b' })).toBe(noneMessage('0'));
    expect(rejection({ builds: 'x', label: 5 })).toBe('builds should be a list');
    expect(rejection({ label: 5, builds: 'x' })).toBe('label should be a string');
  });

  it('bounds the nesting depth', () => {
    const nested = (depth: number): unknown => {
      let v: unknown = 'x86_64';
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    // source -> list -> value is all ODCS needs; sixteen levels of lists still pass.
    expect(rejection({ source: tag, arches: nested(16) })).toBeUndefined();
    expect(rejection({ source: tag, arches: nested(17) })).toBe('The request is nested too deeply.');
    expect(rejection({ source: tag, arches: nested(5000) })).toBe('The request is nested too deeply.');
  });
});
