/**
 * Tokenizer and precedence-climbing parser for Kiln's condition/expression language.
 *
 * Grammar (lowest precedence first):
 *   or      := and ( '||' and )*
 *   and     := equal ( '&&' equal )*
 *   equal   := unary ( ('==' | '!=') unary )*
 *   unary   := '!' unary | primary
 *   primary := literal | path | call | '(' or ')'
 * Identifiers and function names are checked here, so a typo is reported with its column before
 * anything is evaluated.
 */

export type Literal = string | number | boolean | null;

export type Expr =
  | { kind: 'literal'; value: Literal; col: number }
  | { kind: 'ident'; path: string[]; col: number }
  | { kind: 'call'; name: string; args: Expr[]; col: number }
  | { kind: 'not'; operand: Expr; col: number }
  | { kind: 'binary'; op: '==' | '!=' | '&&' | '||'; left: Expr; right: Expr; col: number };

/** A malformed expression. `col` is 1-based within the expression source given to the parser. */
export class ExpressionError extends Error {
  readonly col: number;
  readonly reason: string;
  constructor(reason: string, col: number) {
    super(`${reason} at column ${col}`);
    this.name = 'ExpressionError';
    this.reason = reason;
    this.col = col;
  }
}

export const SCALAR_IDENTIFIERS = ['event', 'branch', 'tag', 'sha', 'repo', 'ref'] as const;
export const MAP_IDENTIFIERS = ['matrix', 'env'] as const;
/** `needs.<job>.outputs.<name>` (and `needs.<job>.result`), `steps.<id>.outputs.<name>`: job outputs (flow.ts). */
export const OUTPUT_IDENTIFIERS = ['needs', 'steps'] as const;
export const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled'] as const;

/** name → [min args, max args] */
const FUNCTIONS: Record<string, [number, number]> = {
  startsWith: [2, 2],
  endsWith: [2, 2],
  contains: [2, 2],
  matches: [2, 2],
  hashFiles: [1, Infinity],
  changed: [1, Infinity],
  success: [0, 0],
  failure: [0, 0],
  always: [0, 0],
  cancelled: [0, 0],
};

type TokenKind = 'string' | 'number' | 'ident' | 'op' | '(' | ')' | ',' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  value?: Literal;
  col: number;
}

const OPERATORS = ['==', '!=', '&&', '||', '!'];

export function tokenize(source: string, offset = 0): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const colAt = (k: number) => k + 1 + offset;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      let closed = false;
      while (i < source.length) {
        const d = source[i];
        if (c === "'" && d === "'") {
          if (source[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          closed = true;
          i++;
          break;
        }
        if (c === '"' && d === '\\' && i + 1 < source.length) {
          const e = source[i + 1];
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
          continue;
        }
        if (c === '"' && d === '"') {
          closed = true;
          i++;
          break;
        }
        value += d;
        i++;
      }
      if (!closed) throw new ExpressionError('unterminated string', colAt(start));
      tokens.push({ kind: 'string', text: source.slice(start, i), value, col: colAt(start) });
      continue;
    }
    const num = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (num && (c !== '-' || isOperandPosition(tokens))) {
      const after = source[i + num[0].length];
      if (after !== undefined && /[A-Za-z_]/.test(after)) throw new ExpressionError(`invalid number '${num[0]}${after}'`, colAt(start));
      i += num[0].length;
      tokens.push({ kind: 'number', text: num[0], value: Number(num[0]), col: colAt(start) });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      // A dotted path is one token: `matrix.node.version`. Segments may contain '-' like env names.
      const m = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*/.exec(source.slice(i));
      const text = m ? m[0] : c;
      i += text.length;
      if (source[i] === '.') throw new ExpressionError(`incomplete property path '${text}.'`, colAt(i));
      tokens.push({ kind: 'ident', text, col: colAt(start) });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (OPERATORS.includes(two)) {
      tokens.push({ kind: 'op', text: two, col: colAt(start) });
      i += 2;
      continue;
    }
    if (c === '!') {
      tokens.push({ kind: 'op', text: '!', col: colAt(start) });
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c, col: colAt(start) });
      i++;
      continue;
    }
    if (c === '=' || c === '&' || c === '|') {
      throw new ExpressionError(`unexpected '${c}' (did you mean '${c}${c}'?)`, colAt(start));
    }
    throw new ExpressionError(`unexpected character '${c}'`, colAt(start));
  }
  tokens.push({ kind: 'eof', text: '', col: colAt(source.length) });
  return tokens;
}

function isOperandPosition(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return !last || last.kind === 'op' || last.kind === '(' || last.kind === ',';
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    if (this.peek().kind === 'eof') throw new ExpressionError('empty expression', this.peek().col);
    const expr = this.or();
    const t = this.peek();
    if (t.kind !== 'eof') throw new ExpressionError(`unexpected ${describe(t)}`, t.col);
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }
  private next(): Token {
    return this.tokens[this.pos++];
  }

  private or(): Expr {
    let left = this.and();
    while (this.peek().kind === 'op' && this.peek().text === '||') {
      const op = this.next();
      left = { kind: 'binary', op: '||', left, right: this.and(), col: op.col };
    }
    return left;
  }

  private and(): Expr {
    let left = this.equal();
    while (this.peek().kind === 'op' && this.peek().text === '&&') {
      const op = this.next();
      left = { kind: 'binary', op: '&&', left, right: this.equal(), col: op.col };
    }
    return left;
  }

  private equal(): Expr {
    let left = this.unary();
    while (this.peek().kind === 'op' && (this.peek().text === '==' || this.peek().text === '!=')) {
      const op = this.next();
      left = { kind: 'binary', op: op.text as '==' | '!=', left, right: this.unary(), col: op.col };
    }
    return left;
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && t.text === '!') {
      this.next();
      return { kind: 'not', operand: this.unary(), col: t.col };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'string':
      case 'number':
        return { kind: 'literal', value: t.value ?? null, col: t.col };
      case '(': {
        const inner = this.or();
        const close = this.next();
        if (close.kind !== ')') throw new ExpressionError(`expected ')' to close '(' at column ${t.col}, found ${describe(close)}`, close.col);
        return inner;
      }
      case 'ident':
        return this.identOrCall(t);
      default:
        throw new ExpressionError(`expected a value, found ${describe(t)}`, t.col);
    }
  }

  private identOrCall(t: Token): Expr {
    if (t.text === 'true' || t.text === 'false') return { kind: 'literal', value: t.text === 'true', col: t.col };
    if (t.text === 'null') return { kind: 'literal', value: null, col: t.col };
    if (this.peek().kind === '(') {
      const arity = FUNCTIONS[t.text];
      if (!arity) throw new ExpressionError(`unknown function '${t.text}'${suggest(t.text, Object.keys(FUNCTIONS))}`, t.col);
      this.next();
      const args: Expr[] = [];
      if (this.peek().kind !== ')') {
        args.push(this.or());
        while (this.peek().kind === ',') {
          this.next();
          args.push(this.or());
        }
      }
      const close = this.next();
      if (close.kind !== ')') throw new ExpressionError(`expected ',' or ')' in call to ${t.text}(), found ${describe(close)}`, close.col);
      const [min, max] = arity;
      if (args.length < min || args.length > max) {
        const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
        throw new ExpressionError(`${t.text}() takes ${want} argument${min === 1 && max === 1 ? '' : 's'}, got ${args.length}`, t.col);
      }
      return { kind: 'call', name: t.text, args, col: t.col };
    }
    const path = t.text.split('.');
    const root = path[0];
    if ((SCALAR_IDENTIFIERS as readonly string[]).includes(root)) {
      if (path.length > 1) throw new ExpressionError(`'${root}' has no properties`, t.col);
    } else if ((MAP_IDENTIFIERS as readonly string[]).includes(root)) {
      if (path.length < 2) throw new ExpressionError(`'${root}' needs a key, e.g. ${root}.NAME`, t.col);
    } else if ((OUTPUT_IDENTIFIERS as readonly string[]).includes(root)) {
      const ok = (path.length === 4 && path[2] === 'outputs') || (root === 'needs' && path.length === 3 && path[2] === 'result');
      if (!ok) throw new ExpressionError(`'${root}' is read as ${root}.<${root === 'needs' ? 'job' : 'step id'}>.outputs.<name>${root === 'needs' ? ' or needs.<job>.result' : ''}`, t.col);
    } else if (FUNCTIONS[root] && path.length === 1) {
      throw new ExpressionError(`'${root}' is a function: call it as ${root}(…)`, t.col);
    } else {
      const known = [...SCALAR_IDENTIFIERS, ...MAP_IDENTIFIERS, ...OUTPUT_IDENTIFIERS];
      throw new ExpressionError(`unknown identifier '${root}'${suggest(root, known)}`, t.col);
    }
    return { kind: 'ident', path, col: t.col };
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of expression';
  return `'${t.text}'`;
}

/** ` (did you mean 'x'?)` when a candidate is close enough, else ''. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  return best !== undefined && bestDistance > 0 && bestDistance <= limit ? ` (did you mean '${best}'?)` : '';
}

/** Levenshtein distance where swapping two adjacent letters also counts as one edit (typos like 'biuld'). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

// Parsed expressions are immutable, and the same text recurs across jobs and matrix instances:
// a small cache keeps planning a large pipeline from re-parsing it hundreds of times.
const cache = new Map<string, Expr>();
const CACHE_LIMIT = 2000;

/** Parses an expression; `offset` shifts reported columns (for an expression inside a larger string). */
export function parseExpressionAt(source: string, offset: number): Expr {
  const key = `${offset}\u0000${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const expr = new Parser(tokenize(source, offset)).parse();
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, expr);
  return expr;
}
