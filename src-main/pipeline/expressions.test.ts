import { describe, expect, it } from 'vitest';
import {
  evaluateCondition,
  evaluateExpression,
  ExpressionError,
  parseExpression,
  renderTemplate,
  splitTemplate,
  usesStatusFunctions,
} from './expressions.js';
import type { ExpressionContext } from './expressions.js';

const ctx: ExpressionContext = {
  event: 'push',
  branch: 'main',
  sha: 'abc123',
  repo: 'acme/web',
  ref: 'refs/heads/main',
  matrix: { node: '20', os: 'bookworm', experimental: true, 'node.version': '14' },
  env: { NODE_ENV: 'test', EMPTY: '' },
};

function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ExpressionError) return e;
    throw e;
  }
  throw new Error('expected an ExpressionError');
}

describe('evaluateCondition', () => {
  it.each([
    ["branch == 'main'", true],
    ["branch != 'main'", false],
    ["branch == 'Main'", false],
    ["event == 'pull_request'", false],
    ["branch == 'main' || event == 'pull_request'", true],
    ["branch == 'dev' || event == 'pull_request'", false],
    ["branch == 'main' && event == 'push'", true],
    ["branch == 'main' && event == 'tag'", false],
    ["!(branch == 'main')", false],
    ['!false', true],
    ['!!true', true],
    ["branch == 'dev' || branch == 'main' && event == 'push'", true],
    ["(branch == 'dev' || branch == 'main') && event == 'tag'", false],
    ['true', true],
    ['false', false],
    ['null', false],
    ['0', false],
    ['1', true],
    ["''", false],
    ["'x'", true],
    ['tag', false],
    ['tag == null', true],
    ["matrix.node == '20'", true],
    ['matrix.node == 20', true],
    ['matrix.node == 20.0', true],
    ['matrix.experimental == true', true],
    ['matrix.experimental', true],
    ['matrix.missing == null', true],
    ["matrix.node.version == '14'", true],
    ["env.NODE_ENV == 'test'", true],
    ['env.EMPTY', false],
    ['env.EMPTY == 0', true],
    ["'abc' == 0", false],
    ['true == 1', true],
    ['null == 0', true],
    ["startsWith(ref, 'refs/heads/')", true],
    ["endsWith(repo, '/web')", true],
    ["contains(sha, 'c12')", true],
    ["contains(sha, 'C12')", false],
    ["matches(branch, 'ma*')", true],
    ["matches('release/1.2', 'release/*')", true],
    ["matches('release/1/2', 'release/*')", false],
    ["matches('release/1/2', 'release/**')", true],
    ["'it''s' == \"it's\"", true],
    ['"a\\"b" == \'a"b\'', true],
    ["sha == 'abc123' && repo == 'acme/web'", true],
    ['1.5 == 1.50', true],
    ['-1 == -1', true],
  ])('%s → %s', (source, expected) => {
    expect(evaluateCondition(source, ctx)).toBe(expected);
  });

  it('treats an empty condition as success()', () => {
    expect(evaluateCondition('', ctx)).toBe(true);
    expect(evaluateCondition('  ', { ...ctx, status: { success: false, failure: true, cancelled: false } })).toBe(false);
  });

  it('accepts a condition wrapped in ${{ }}', () => {
    expect(evaluateCondition("${{ branch == 'main' }}", ctx)).toBe(true);
    expect(evaluateCondition("${{ branch == 'dev' }}", ctx)).toBe(false);
  });

  it('adds an implicit success() to conditions without status functions', () => {
    const failed = { ...ctx, status: { success: false, failure: true, cancelled: false } };
    expect(evaluateCondition("branch == 'main'", failed)).toBe(false);
    expect(evaluateCondition('failure()', failed)).toBe(true);
    expect(evaluateCondition('success()', failed)).toBe(false);
    expect(evaluateCondition('always()', failed)).toBe(true);
    expect(evaluateCondition("failure() && branch == 'main'", failed)).toBe(true);
    expect(evaluateCondition('cancelled()', { ...ctx, status: { success: false, failure: false, cancelled: true } })).toBe(true);
  });

  it('calls hashFiles through the context and fails clearly without it', () => {
    expect(evaluateExpression("hashFiles('a', 'b')", { ...ctx, hashFiles: (p) => p.join('+') })).toBe('a+b');
    expect(errorOf(() => evaluateExpression("hashFiles('a')", ctx)).message).toMatch(/only available in cache.key/);
  });
});

describe('operator precedence', () => {
  it('binds == tighter than && and && tighter than ||', () => {
    const e = parseExpression("a == 'x' || b == 'y' && c".replace(/\b([abc])\b/g, 'env.$1'));
    expect(e.kind).toBe('binary');
    if (e.kind === 'binary') {
      expect(e.op).toBe('||');
      expect(e.right.kind === 'binary' && e.right.op).toBe('&&');
    }
  });

  it('binds ! tighter than ==, as GitHub does', () => {
    const e = parseExpression("!env.A == 'x'");
    expect(e.kind === 'binary' && e.op).toBe('==');
  });

  it('returns the deciding operand of && and || as a value', () => {
    expect(evaluateExpression("env.EMPTY || 'fallback'", ctx)).toBe('fallback');
    expect(evaluateExpression("env.NODE_ENV && 'yes'", ctx)).toBe('yes');
  });
});

describe('malformed expressions', () => {
  it.each([
    ["branch = 'main'", 8, /did you mean '=='/],
    ["branch == 'main", 11, /unterminated string/],
    ["branch == 'main' &&", 20, /expected a value, found end of expression/],
    ["(branch == 'main'", 18, /expected '\)'/],
    ["branch == 'main')", 17, /unexpected '\)'/],
    ["brnch == 'main'", 1, /unknown identifier 'brnch' \(did you mean 'branch'\?\)/],
    ["startWith(branch, 'm')", 1, /unknown function 'startWith' \(did you mean 'startsWith'\?\)/],
    ["startsWith(branch)", 1, /takes 2 arguments, got 1/],
    ['success(1)', 1, /takes 0 arguments/],
    ['hashFiles()', 1, /at least 1/],
    ['matrix', 1, /needs a key/],
    ['branch.name', 1, /has no properties/],
    ['success', 1, /is a function/],
    ["branch == 'a' # x", 15, /unexpected character '#'/],
    ['', 1, /empty expression/],
    ['matrix.', 7, /incomplete property path/],
    ['12abc', 1, /invalid number/],
    ["branch == 'a' 'b'", 15, /unexpected ''b''/],
  ])('%j is rejected at column %i', (source, col, message) => {
    const err = errorOf(() => parseExpression(source));
    expect(err.col).toBe(col);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`column ${col}`);
  });

  it('reports columns relative to a ${{ }}-wrapped condition', () => {
    const err = errorOf(() => evaluateCondition('${{ brnch }}', ctx));
    expect(err.col).toBe(5);
  });
});

describe('usesStatusFunctions', () => {
  it.each([
    ['success()', true],
    ["always() && branch == 'main'", true],
    ['!cancelled()', true],
    ["branch == 'main'", false],
    ["'success()' == branch", false],
    ['', false],
  ])('%j → %s', (source, expected) => {
    expect(usesStatusFunctions(source)).toBe(expected);
  });
});

describe('renderTemplate', () => {
  it('replaces every ${{ expr }} with the value as text', () => {
    expect(renderTemplate('node:${{ matrix.node }}-${{ matrix.os }}', ctx)).toBe('node:20-bookworm');
    expect(renderTemplate('${{ matrix.missing }}|${{ true }}|${{ 3 }}', ctx)).toBe('|true|3');
  });

  it("does not end an expression at '}}' inside a string", () => {
    expect(renderTemplate("a${{ 'x}}y' }}b", ctx)).toBe('ax}}yb');
  });

  it('renders hashFiles at run time', () => {
    expect(renderTemplate("npm-${{ hashFiles('package-lock.json') }}", { ...ctx, hashFiles: () => 'deadbeef' })).toBe('npm-deadbeef');
  });

  it('reports an unterminated ${{ with its column', () => {
    expect(errorOf(() => splitTemplate('ab${{ x')).col).toBe(3);
  });

  it('reports errors inside an expression with the column in the whole template', () => {
    expect(errorOf(() => renderTemplate('abc ${{ nope }}', ctx)).col).toBe(9);
  });
});
