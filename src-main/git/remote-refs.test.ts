import { describe, expect, it } from 'vitest';
import { parseLsRemote } from './remote-refs.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('reading git ls-remote output', () => {
  it('keeps branches, tags (peeled to their commit) and pull request heads only', () => {
    const out = [
      `${A}\tHEAD`, `${A}\trefs/heads/main`, `${B}\trefs/tags/v1`, `${C}\trefs/tags/v1^{}`, `${B}\trefs/pull/3/head`,
      `${C}\trefs/pull/3/merge`, `${A}\trefs/notes/commits`, 'garbage line', '',
    ].join('\n');
    expect(parseLsRemote(out)).toEqual(new Map([['refs/heads/main', A], ['refs/tags/v1', C], ['refs/pull/3/head', B]]));
  });
});
