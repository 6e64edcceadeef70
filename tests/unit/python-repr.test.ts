import { MAX_REPR_DEPTH, pyRepr } from '../../common/python-repr';

/**
 * pyRepr must print a decoded JSON value exactly as CPython 3's repr() prints the value
 * json.loads() gives, because ODCS quotes request bodies that way in its messages
 * (`Invalid source configuration provided: <repr>` and friends). Expected strings below are
 * what CPython prints.
 */
describe('pyRepr', () => {
  it('prints None, True and False', () => {
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr(true)).toBe('True');
    expect(pyRepr(false)).toBe('False');
  });

  it('prints integers and floats', () => {
    expect(pyRepr(0)).toBe('0');
    expect(pyRepr(-42)).toBe('-42');
    expect(pyRepr(86400)).toBe('86400');
    // JSON integers are Python ints, printed in full however large.
    expect(pyRepr(1e16)).toBe('10000000000000000');
    expect(pyRepr(1e21)).toBe('1000000000000000000000');
    expect(pyRepr(1.5)).toBe('1.5');
    expect(pyRepr(-0.25)).toBe('-0.25');
    expect(pyRepr(123.456)).toBe('123.456');
    expect(pyRepr(0.0001)).toBe('0.0001');
    // CPython switches to exponent notation below 1e-4 (JavaScript only below 1e-6) and
    // always writes at least two exponent digits.
    expect(pyRepr(0.00001)).toBe('1e-05');
    expect(pyRepr(0.000015)).toBe('1.5e-05');
    expect(pyRepr(0.000001)).toBe('1e-06');
    expect(pyRepr(1.5e-7)).toBe('1.5e-07');
    expect(pyRepr(-2.5e-10)).toBe('-2.5e-10');
    expect(pyRepr(1e-300)).toBe('1e-300');
  });

  it('prints strings with single quotes unless the string holds only single quotes', () => {
    expect(pyRepr('f30-build')).toBe("'f30-build'");
    expect(pyRepr('')).toBe("''");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('say "hi"')).toBe('\'say "hi"\'');
    // Both kinds: single quotes win and the single quote is escaped.
    expect(pyRepr('it\'s "x"')).toBe('\'it\\\'s "x"\'');
  });

  it('escapes backslashes, control characters and non-printable characters like CPython', () => {
    expect(pyRepr('a\\b')).toBe("'a\\\\b'");
    expect(pyRepr('a\nb\tc\r')).toBe("'a\\nb\\tc\\r'");
    expect(pyRepr('\u0000\u001f\u007f')).toBe("'\\x00\\x1f\\x7f'");
    expect(pyRepr('\u0080\u009f')).toBe("'\\x80\\x9f'");
    // Non-printable outside C0/C1 too: no-break space (Zs), soft hyphen (Cf), line separator
    // (Zl), zero-width space (Cf), ideographic space (Zs), a lone surrogate, a tag character.
    expect(pyRepr('\u00a0')).toBe("'\\xa0'");
    expect(pyRepr('\u00ad')).toBe("'\\xad'");
    expect(pyRepr('\u2028')).toBe("'\\u2028'");
    expect(pyRepr('\u200b')).toBe("'\\u200b'");
    expect(pyRepr('\u3000')).toBe("'\\u3000'");
    expect(pyRepr('\ud800')).toBe("'\\ud800'");
    expect(pyRepr('\u{e0001}')).toBe("'\\U000e0001'");
  });

  it('keeps printable non-ASCII characters as they are', () => {
    expect(pyRepr('kůň')).toBe("'kůň'");
    expect(pyRepr('日本')).toBe("'日本'");
    expect(pyRepr('😀')).toBe("'😀'");
    expect(pyRepr('a b')).toBe("'a b'");
  });

  it('prints lists and dicts with Python separators, keys in insertion order', () => {
    expect(pyRepr([])).toBe('[]');
    expect(pyRepr({})).toBe('{}');
    expect(pyRepr([1, 'a', null, true])).toBe("[1, 'a', None, True]");
    expect(pyRepr({ source: { type: 'tag', source: 'f30' }, flags: ['no_deps'], seconds_to_live: 60 })).toBe(
      "{'source': {'type': 'tag', 'source': 'f30'}, 'flags': ['no_deps'], 'seconds_to_live': 60}",
    );
    expect(pyRepr({ "it's": [false, { x: null }] })).toBe('{"it\'s": [False, {\'x\': None}]}');
  });

  it('prints what ODCS quotes in its 400 messages for a body decoded from JSON', () => {
    const body = JSON.parse('{"source": "f30", "arches": ["x86_64"], "seconds-to-live": "abc", "x": 1.5}');
    expect(pyRepr(body)).toBe("{'source': 'f30', 'arches': ['x86_64'], 'seconds-to-live': 'abc', 'x': 1.5}");
  });

  it('prints containers nested beyond MAX_REPR_DEPTH as [...] and {...}, however deep the input', () => {
    // Found by the fuzz test: a body of 100,000 nested lists overflowed the stack (a 500).
    const deep = JSON.parse(`${'['.repeat(100000)}${']'.repeat(100000)}`) as unknown;
    expect(pyRepr(deep)).toBe(`${'['.repeat(MAX_REPR_DEPTH)}[...]${']'.repeat(MAX_REPR_DEPTH)}`);
    const deepObject = JSON.parse(`${'{"a": '.repeat(50)}1${'}'.repeat(50)}`) as unknown;
    expect(pyRepr(deepObject)).toBe(`${"{'a': ".repeat(MAX_REPR_DEPTH)}{...}${'}'.repeat(MAX_REPR_DEPTH)}`);
  });
});
