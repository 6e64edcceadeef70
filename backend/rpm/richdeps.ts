/**
 * rpm rich (boolean) dependencies: `(A or B)`, `(A and B)`, `(A if B [else C])`,
 * `(A unless B [else C])`, `(A with B)`, `(A without B)`, nested with parentheses, operands
 * optionally versioned (`foo >= 1.2`).
 */
import type { Dep } from './model';
import { flagsOperator, formatEvr, operatorFlags, parseEvr } from './vercmp';

export type RichExpr =
  | { kind: 'dep'; dep: Dep }
  | { kind: 'and' | 'or' | 'with'; operands: RichExpr[] }
  | { kind: 'without'; left: RichExpr; right: RichExpr }
  | { kind: 'if' | 'unless'; then: RichExpr; cond: RichExpr; else?: RichExpr };

/** A rich dependency we cannot parse or evaluate; names the whole dependency. */
export class RichDepError extends Error {
  override name = 'RichDepError';
  constructor(
    readonly dependency: string,
    reason: string,
  ) {
    super(`Unsupported rich dependency "${dependency}": ${reason}`);
  }
}

const KEYWORDS = new Set(['and', 'or', 'if', 'else', 'unless', 'with', 'without']);
const CHAINABLE = new Set(['and', 'or', 'with']);

/** Parses a rich dependency such as `(foo >= 1.2 or (bar if baz))`. */
export function parseRichDep(text: string): RichExpr {
  const parser = new Parser(text);
  const expr = parser.parseGroup();
  parser.skipSpace();
  if (!parser.atEnd()) parser.fail('unexpected text after the closing parenthesis');
  return expr;
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  fail(reason: string): never {
    throw new RichDepError(this.text, `${reason} (at offset ${this.pos})`);
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  /** `( operand op operand … )` */
  parseGroup(): RichExpr {
    this.skipSpace();
    if (this.text[this.pos] !== '(') this.fail('expected "("');
    this.pos++;
    const first = this.parseOperand();
    this.skipSpace();
    if (this.text[this.pos] === ')') {
      this.pos++;
      return first;
    }
    const op = this.readWord();
    if (!KEYWORDS.has(op) || op === 'else') this.fail(`expected an operator, found "${op}"`);

    if (CHAINABLE.has(op)) {
      const operands = [first, this.parseOperand()];
      for (;;) {
        this.skipSpace();
        if (this.text[this.pos] === ')') break;
        const next = this.readWord();
        if (next !== op) this.fail(`"${next}" cannot follow "${op}" without parentheses`);
        operands.push(this.parseOperand());
      }
      this.pos++;
      return { kind: op as 'and' | 'or' | 'with', operands };
    }

    const second = this.parseOperand();
    this.skipSpace();
    if (op === 'without') {
      this.expectClose(op);
      return { kind: 'without', left: first, right: second };
    }
    // if / unless, optionally followed by else
    let otherwise: RichExpr | undefined;
    if (this.text[this.pos] !== ')') {
      const next = this.readWord();
      if (next !== 'else') this.fail(`"${next}" cannot follow "${op}" without parentheses`);
      otherwise = this.parseOperand();
      this.skipSpace();
    }
    this.expectClose(op);
    const kind = op as 'if' | 'unless';
    return otherwise ? { kind, then: first, cond: second, else: otherwise } : { kind, then: first, cond: second };
  }

  private expectClose(op: string): void {
    if (this.text[this.pos] !== ')') this.fail(`"${op}" takes exactly two operands here`);
    this.pos++;
  }

  private parseOperand(): RichExpr {
    this.skipSpace();
    if (this.atEnd()) this.fail('unexpected end');
    if (this.text[this.pos] === '(') return this.parseGroup();
    const name = this.readToken();
    if (name === '') this.fail('expected a dependency');
    if (KEYWORDS.has(name)) this.fail(`expected a dependency, found the operator "${name}"`);
    const save = this.pos;
    this.skipSpace();
    const opStart = this.pos;
    const opMatch = /^(<=|>=|=<|=>|==|<|>|=)/.exec(this.text.slice(this.pos, this.pos + 2));
    if (!opMatch) {
      this.pos = save;
      return { kind: 'dep', dep: { name } };
    }
    this.pos = opStart + opMatch[1]!.length;
    this.skipSpace();
    const evr = this.readToken();
    if (evr === '' || KEYWORDS.has(evr)) this.fail(`expected a version after "${opMatch[1]}"`);
    const flags = operatorFlags(opMatch[1]!)!;
    const parsed = parseEvr(evr);
    const dep: Dep = { name, flags, version: parsed.version };
    if (parsed.epoch !== undefined) dep.epoch = parsed.epoch;
    if (parsed.release !== undefined) dep.release = parsed.release;
    return { kind: 'dep', dep };
  }

  /** A name or version: up to whitespace or an unbalanced `)`; `foo(bar)` keeps its parentheses. */
  private readToken(): string {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (/\s/.test(c)) break;
      if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) break;
        depth--;
      }
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  private readWord(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && /[a-z]/.test(this.text[this.pos]!)) this.pos++;
    const word = this.text.slice(start, this.pos);
    if (word === '') this.fail('expected an operator');
    return word;
  }
}

/** The rpm spelling of a simple dependency: `name`, or `name op [e:]v[-r]`. */
export function formatDep(dep: Dep): string {
  if (!dep.flags) return dep.name;
  return `${dep.name} ${flagsOperator(dep.flags)} ${formatEvr(dep)}`;
}

/** The rpm spelling of a rich dependency (parenthesised). */
export function formatRichExpr(expr: RichExpr): string {
  const operand = (e: RichExpr): string => formatRichExpr(e);
  switch (expr.kind) {
    case 'dep':
      return formatDep(expr.dep);
    case 'and':
    case 'or':
    case 'with':
      return `(${expr.operands.map(operand).join(` ${expr.kind} `)})`;
    case 'without':
      return `(${operand(expr.left)} without ${operand(expr.right)})`;
    case 'if':
    case 'unless': {
      const tail = expr.else ? ` else ${operand(expr.else)}` : '';
      return `(${operand(expr.then)} ${expr.kind} ${operand(expr.cond)}${tail})`;
    }
  }
}

/** Every simple dependency the expression mentions, conditions included. */
export function simpleDepsOf(expr: RichExpr, out: Dep[] = []): Dep[] {
  switch (expr.kind) {
    case 'dep':
      out.push(expr.dep);
      break;
    case 'and':
    case 'or':
    case 'with':
      for (const e of expr.operands) simpleDepsOf(e, out);
      break;
    case 'without':
      simpleDepsOf(expr.left, out);
      simpleDepsOf(expr.right, out);
      break;
    case 'if':
    case 'unless':
      simpleDepsOf(expr.then, out);
      simpleDepsOf(expr.cond, out);
      if (expr.else) simpleDepsOf(expr.else, out);
      break;
  }
  return out;
}

/** Looks up the packages providing a simple dependency. */
export type WhatProvides<P> = (dep: Dep) => readonly P[];

/**
 * The packages that on their own satisfy a "set" expression: a simple dependency, `with`
 * (one package providing all operands), `without`, and `or` of those (any of them). `and` and
 * the conditionals may need several packages: they are rejected naming `source`.
 */
export function providerSet<P>(expr: RichExpr, whatProvides: WhatProvides<P>, source: string): P[] {
  switch (expr.kind) {
    case 'dep':
      return [...whatProvides(expr.dep)];
    case 'or': {
      const seen = new Set<P>();
      for (const e of expr.operands) for (const p of providerSet(e, whatProvides, source)) seen.add(p);
      return [...seen];
    }
    case 'with': {
      let acc = providerSet(expr.operands[0]!, whatProvides, source);
      for (const e of expr.operands.slice(1)) {
        if (acc.length === 0) break;
        const other = new Set(providerSet(e, whatProvides, source));
        acc = acc.filter((p) => other.has(p));
      }
      return acc;
    }
    case 'without': {
      const minus = new Set(providerSet(expr.right, whatProvides, source));
      return providerSet(expr.left, whatProvides, source).filter((p) => !minus.has(p));
    }
    case 'and':
    case 'if':
    case 'unless':
      throw new RichDepError(source, `"${expr.kind}" cannot be used where a single package is meant`);
  }
}

/** Whether the expression can be answered by one package set (see providerSet). */
export function isSetExpression(expr: RichExpr): boolean {
  switch (expr.kind) {
    case 'dep':
      return true;
    case 'or':
    case 'with':
      return expr.operands.every(isSetExpression);
    case 'without':
      return isSetExpression(expr.left) && isSetExpression(expr.right);
    case 'and':
    case 'if':
    case 'unless':
      return false;
  }
}

/**
 * Whether the dependency holds for a set of installed packages, `whatProvides` answering from
 * that set. `source` is the dependency's text, used in errors.
 */
export function evaluateRichDep<P>(expr: RichExpr, whatProvides: WhatProvides<P>, source: string): boolean {
  const sat = (e: RichExpr): boolean => evaluateRichDep(e, whatProvides, source);
  switch (expr.kind) {
    case 'dep':
      return whatProvides(expr.dep).length > 0;
    case 'and':
      return expr.operands.every(sat);
    case 'or':
      return expr.operands.some(sat);
    case 'with':
    case 'without':
      return providerSet(expr, whatProvides, source).length > 0;
    case 'if':
      if (sat(expr.cond)) return sat(expr.then);
      return expr.else ? sat(expr.else) : true;
    case 'unless':
      if (sat(expr.cond)) return expr.else ? sat(expr.else) : true;
      return sat(expr.then);
  }
}
