import { describe, expect, it } from 'vitest';
import { unknownOptionMessage } from './args.js';

const KNOWN = ['repo', 'ref', 'event', 'secret', 'env', 'parallel', 'debug', 'engine', 'worktree', 'help'];

describe('unknownOptionMessage', () => {
  it('suggests the known flag a typo is closest to: a missing, extra, wrong or swapped letter, or a prefix', () => {
    expect(unknownOptionMessage('--paralel', KNOWN)).toBe("unknown option '--paralel' (did you mean --parallel?)");
    expect(unknownOptionMessage('--secrets', KNOWN)).toBe("unknown option '--secrets' (did you mean --secret?)");
    expect(unknownOptionMessage('--evnet', KNOWN)).toBe("unknown option '--evnet' (did you mean --event?)");
    expect(unknownOptionMessage('--work', KNOWN)).toBe("unknown option '--work' (did you mean --worktree?)");
    expect(unknownOptionMessage('--engine=x', ['engine'])).toBe("unknown option '--engine=x' (did you mean --engine?)");
  });

  it('suggests nothing when no flag is close', () => {
    expect(unknownOptionMessage('--frob', KNOWN)).toBe("unknown option '--frob'");
    expect(unknownOptionMessage('-x', KNOWN)).toBe("unknown option '-x'");
  });
});
