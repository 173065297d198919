import { describe, expect, it } from 'vitest';
import { errorLine, errorText } from './error-line.js';

describe('the line an unexpected error becomes', () => {
  it.each([
    ['an error: its message', new Error('git ls-remote failed'), 'git ls-remote failed'],
    ['with a cause: the cause\'s message after it', new Error('catch-up failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }), 'catch-up failed (cause: connect ECONNREFUSED 127.0.0.1:9)'],
    ['a cause already quoted in the message: not repeated', new Error('fetch failed: timeout', { cause: new Error('timeout') }), 'fetch failed: timeout'],
    ['causes of causes: each once', new Error('a', { cause: new Error('b', { cause: 'c' }) }), 'a (cause: b) (cause: c)'],
    ['a string', 'no answer', 'no answer'],
    ['an object with a message', { message: 'EPIPE' }, 'EPIPE'],
  ])('%s', (_name, err, expected) => {
    expect(errorText(err)).toBe(expected);
  });

  it('is one line without a stack, and adds the stacks of the error and its cause under debug', () => {
    const err = new Error('outer', { cause: new Error('inner') });
    expect(errorLine('kiln: catch-up of acme/web failed', err, false)).toBe('kiln: catch-up of acme/web failed: outer (cause: inner)');
    const debug = errorLine('kiln: x', err, true).split('\n');
    expect(debug[0]).toBe('kiln: x: outer (cause: inner)');
    expect(debug).toContain('Error: outer');
    expect(debug).toContain('caused by Error: inner');
    expect(debug.some((l) => /^\s+at /.test(l))).toBe(true);
  });
});
