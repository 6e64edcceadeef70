import type { Dep } from '../../../backend/rpm/model';
import {
  evaluateRichDep,
  formatRichExpr,
  isSetExpression,
  parseRichDep,
  providerSet,
  RichDepError,
  simpleDepsOf,
} from '../../../backend/rpm/richdeps';
import { evrMatches } from '../../../backend/rpm/vercmp';

describe('parseRichDep', () => {
  it('parses or / and with versioned operands', () => {
    expect(parseRichDep('(foo >= 1.2 or bar)')).toEqual({
      kind: 'or',
      operands: [
        { kind: 'dep', dep: { name: 'foo', flags: 'GE', version: '1.2' } },
        { kind: 'dep', dep: { name: 'bar' } },
      ],
    });
    expect(parseRichDep('(a and b and c = 2:1-3)')).toEqual({
      kind: 'and',
      operands: [
        { kind: 'dep', dep: { name: 'a' } },
        { kind: 'dep', dep: { name: 'b' } },
        { kind: 'dep', dep: { name: 'c', flags: 'EQ', epoch: '2', version: '1', release: '3' } },
      ],
    });
  });

  it('parses if / unless with and without else', () => {
    expect(parseRichDep('(a if b)')).toEqual({
      kind: 'if',
      then: { kind: 'dep', dep: { name: 'a' } },
      cond: { kind: 'dep', dep: { name: 'b' } },
    });
    expect(parseRichDep('(a unless b else c)')).toMatchObject({
      kind: 'unless',
      else: { kind: 'dep', dep: { name: 'c' } },
    });
    expect(parseRichDep('(a if b else c)')).toMatchObject({ kind: 'if', else: { kind: 'dep' } });
  });

  it('parses with / without and nesting', () => {
    const e = parseRichDep(
      '((python3-foo with python3-foo(x86-64)) or (bar without bar-compat) or (baz if (qux or quux)))',
    );
    expect(e.kind).toBe('or');
    expect(formatRichExpr(e)).toBe(
      '((python3-foo with python3-foo(x86-64)) or (bar without bar-compat) or (baz if (qux or quux)))',
    );
  });

  it('keeps parentheses that belong to a name', () => {
    const e = parseRichDep('(libc.so.6()(64bit) or libfoo(x86-64) >= 1.0)');
    expect(simpleDepsOf(e).map((d) => d.name)).toEqual(['libc.so.6()(64bit)', 'libfoo(x86-64)']);
    expect(simpleDepsOf(e)[1]).toMatchObject({ flags: 'GE', version: '1.0' });
  });

  it('accepts spacing variations', () => {
    expect(formatRichExpr(parseRichDep('(  a >= 1   or   (b  <  2) )'))).toBe('(a >= 1 or b < 2)');
  });

  it.each([
    ['(a or b and c)', 'cannot follow'],
    ['(a if b if c)', 'cannot follow'],
    ['(a without b without c)', 'exactly two operands'],
    ['(a or b', 'expected an operator'],
    ['(a foo b)', 'expected an operator, found "foo"'],
    ['(a or)', 'expected a dependency'],
    ['(a >= or b)', 'expected a version'],
    ['(a or b) trailing', 'unexpected text'],
    ['a or b', 'expected "("'],
    ['(else b)', 'operator "else"'],
  ])('rejects %s naming the dependency', (text, reason) => {
    let err: unknown;
    try {
      parseRichDep(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RichDepError);
    expect((err as RichDepError).dependency).toBe(text);
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).toContain(reason);
  });
});

describe('evaluateRichDep', () => {
  // An "installed set": each package with what it provides.
  const installed: Record<string, Array<{ name: string; evr?: string }>> = {
    'foo-1.5': [{ name: 'foo', evr: '1.5-1' }, { name: 'libfoo' }],
    'bar-1': [{ name: 'bar', evr: '1-1' }, { name: 'shared' }],
    'baz-1': [{ name: 'baz', evr: '1-1' }, { name: 'shared' }],
  };
  const whatProvides = (dep: Dep): string[] =>
    Object.entries(installed)
      .filter(([, provs]) => provs.some((p) => p.name === dep.name && evrMatches(p.evr ?? null, dep.flags, dep)))
      .map(([pkg]) => pkg);
  const ev = (text: string): boolean => evaluateRichDep(parseRichDep(text), whatProvides, text);

  it.each([
    ['(foo >= 1.2 or nothing)', true],
    ['(foo >= 2 or nothing)', false],
    ['(foo and bar)', true],
    ['(foo and nothing)', false],
    ['(nothing if foo)', false],
    ['(nothing if absent)', true],
    ['(bar if absent else nothing)', false],
    ['(bar if absent else baz)', true],
    ['(nothing unless foo)', true],
    ['(nothing unless absent)', false],
    ['(bar unless absent)', true],
    ['(bar unless foo else nothing)', false],
    ['(shared with bar)', true],
    ['(libfoo with bar)', false],
    ['(shared without bar)', true],
    ['(libfoo without foo)', false],
    ['((foo or nothing) and (baz if bar))', true],
  ])('%s is %s', (text, expected) => {
    expect(ev(text)).toBe(expected);
  });

  it('computes provider sets for set expressions', () => {
    const e = parseRichDep('((shared without bar) or foo)');
    expect(isSetExpression(e)).toBe(true);
    expect(providerSet(e, whatProvides, 'x').sort()).toEqual(['baz-1', 'foo-1.5']);
  });

  it('rejects conditionals and `and` where one package is meant, naming the dependency', () => {
    const text = '((a if b) with c)';
    expect(() => evaluateRichDep(parseRichDep(text), whatProvides, text)).toThrow(RichDepError);
    expect(() => evaluateRichDep(parseRichDep(text), whatProvides, text)).toThrow(text);
    expect(isSetExpression(parseRichDep('(a and b)'))).toBe(false);
  });
});
