import { describe, expect, it } from 'vitest';
import { prepareRunScript, substituteVariables } from './variables.js';
import type { ExpressionContext } from './expressions.js';

const ctx: ExpressionContext = { event: 'push', branch: 'main', sha: 'abc', repo: 'acme/web', matrix: { node: '20' }, env: {} };
const vars = { NAME: 'kiln', EMPTY: '', VERSION: '3.10' };
const sub = (text: string) => substituteVariables(text, { vars, ctx });

describe('substituteVariables outside run', () => {
  it.each([
    ['${NAME}', 'kiln'],
    ['$NAME', 'kiln'],
    ['$NAME-x', 'kiln-x'],
    ['${NAME}_x', 'kiln_x'],
    ['python:${VERSION}', 'python:3.10'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${MISSING-fallback}', 'fallback'],
    ['${NAME:-fallback}', 'kiln'],
    ['${MISSING:-${NAME}-dev}', 'kiln-dev'],
    ['$$NAME', '$NAME'],
    ['cost: $$5', 'cost: $5'],
    ['a $ b', 'a $ b'],
    ['trailing $', 'trailing $'],
    ['node:${{ matrix.node }}', 'node:20'],
    ["${{ branch == 'main' }}", 'true'],
    ['${NAME:?must be set}', 'kiln'],
  ])('%j → %j', (text, expected) => {
    const r = sub(text);
    expect(r.value).toBe(expected);
    expect(r.problems).toEqual([]);
  });

  it('reports ${VAR:?message} with an unknown VAR as a required-variable problem carrying the message', () => {
    const r = sub('registry/${TARGET:?set TARGET to the deploy host}');
    expect(r.problems).toEqual([{ kind: 'required', name: 'TARGET', message: 'set TARGET to the deploy host', col: 10 }]);
  });

  it('treats an empty VAR as missing for :? but not for ?', () => {
    expect(sub('${EMPTY:?x}').problems.map((p) => p.kind)).toEqual(['required']);
    expect(sub('${EMPTY?x}').problems).toEqual([]);
  });

  it('substitutes unknown variables with nothing and reports them as undefined', () => {
    const r = sub('node:$NODE_VERSION');
    expect(r.value).toBe('node:');
    expect(r.problems).toEqual([{ kind: 'undefined', name: 'NODE_VERSION', col: 6 }]);
  });

  it('keeps hashFiles expressions for run time when asked', () => {
    const r = substituteVariables("npm-${{ hashFiles('package-lock.json') }}-${{ matrix.node }}-$NAME", { vars, ctx, keepHashFiles: true });
    expect(r.value).toBe("npm-${{ hashFiles('package-lock.json') }}-20-kiln");
  });

  it('reports hashFiles outside a cache key', () => {
    expect(sub("${{ hashFiles('x') }}").problems[0]).toMatchObject({ kind: 'expression', col: 5 });
  });

  it.each([
    ['${NAME', "unterminated '${'", 1],
    ['x ${{ matrix.node', "unterminated '${{'", 3],
    ['${NAME:x}', 'invalid variable reference', 1],
    ['${1abc}', 'invalid variable reference', 1],
    ['a${{ nope }}', "unknown identifier 'nope'", 6],
  ])('reports malformed %j with its column', (text, message, col) => {
    const problems = substituteVariables(text, { vars }).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0].col).toBe(col);
    expect('message' in problems[0] && problems[0].message).toContain(message);
  });

  it('only checks syntax without a context', () => {
    expect(substituteVariables('$UNKNOWN ${X:?y}', { vars: {} }).problems).toEqual([]);
  });
});

describe('prepareRunScript', () => {
  it('replaces expressions with env references and leaves shell variables alone', () => {
    const r = prepareRunScript('echo ${{ matrix.node }} $HOME $$ ${NAME:-x} ${{ branch }}', ctx);
    expect(r.run).toBe('echo ${KILN_EXPR_0} $HOME $$ ${NAME:-x} ${KILN_EXPR_1}');
    expect(r.env).toEqual({ KILN_EXPR_0: '20', KILN_EXPR_1: 'main' });
  });

  it('never splices a hostile branch name into the script', () => {
    const hostile = 'x;$(touch${IFS}/tmp/pwned)';
    const r = prepareRunScript('git checkout ${{ branch }} && echo "${{ branch }}"', { ...ctx, branch: hostile });
    expect(r.run).not.toContain(hostile);
    expect(r.run).not.toContain('pwned');
    expect(r.run).toBe('git checkout ${KILN_EXPR_0} && echo "${KILN_EXPR_1}"');
    expect(Object.values(r.env)).toEqual([hostile, hostile]);
  });

  it('reports malformed expressions in a script with their column', () => {
    expect(prepareRunScript('echo ${{ brnch }}').problems).toEqual([{ kind: 'expression', message: "unknown identifier 'brnch' (did you mean 'branch'?)", col: 10 }]);
    expect(prepareRunScript('echo ${{ x').problems[0]).toMatchObject({ kind: 'syntax', col: 6 });
  });
});
