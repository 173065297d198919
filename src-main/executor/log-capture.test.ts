import { describe, expect, it } from 'vitest';
import type { LogEntry, LogLine } from '../../shared/model/run.js';
import { decodeLine, JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';

/**
 * A JobLog over a log that already holds `offset` lines. The log numbers what it is given (as the
 * engine's log store does): the JobLog never counts lines itself. `other` appends a line from
 * another writer of the same log (the engine's own notes).
 */
function capture(secrets: string[], limit = 1024 * 1024, offset = 0): { log: JobLog; lines: LogLine[]; other(text: string): void } {
  const lines: LogLine[] = [];
  let next = offset;
  const append = (entry: LogEntry): LogLine => {
    const line = { seq: next++, ...entry };
    lines.push(line);
    return line;
  };
  return { log: new JobLog(new SecretMasker(secrets), append, offset, limit), lines, other: (text) => { append({ ts: 0, stream: 'system', step: null, text }); } };
}

describe('decodeLine', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['keeps valid UTF-8', Buffer.from('héllo ✓'), 'héllo ✓'],
    ['drops a trailing carriage return', Buffer.from('dos line\r'), 'dos line'],
    ['escapes bytes that are not UTF-8', Buffer.from([0x61, 0xff, 0x62]), 'a\\xffb'],
    ['keeps valid sequences around invalid bytes', Buffer.concat([Buffer.from('é'), Buffer.from([0xc3]), Buffer.from('ü')]), 'é\\xc3ü'],
  ];
  for (const [name, input, expected] of cases) it(name, () => expect(decodeLine(input)).toBe(expected));
});

describe('JobLog', () => {
  it("follows the log's numbering from the offset and splits output into lines, keeping a partial line until the end", () => {
    const { log, lines } = capture([], 1024, 10);
    const out = log.openStep(0, 'build');
    out.write('stdout', Buffer.from('one\ntw'));
    out.write('stdout', Buffer.from('o\nthr'));
    expect(lines.map((l) => l.text)).toEqual(['one', 'two']);
    out.end();
    expect(lines.map((l) => [l.seq, l.step, l.stream, l.text])).toEqual([
      [10, 0, 'stdout', 'one'],
      [11, 0, 'stdout', 'two'],
      [12, 0, 'stdout', 'thr'],
    ]);
    expect(log.offset).toBe(13);
  });

  it("takes every seq from the log, so its offset stays right when another writer appends to the same log", () => {
    const { log, lines, other } = capture([], 1024, 4);
    log.system('first');
    other('[kiln] a note from the engine');
    log.system('second');
    expect(lines.map((l) => [l.seq, l.text])).toEqual([[4, 'first'], [5, '[kiln] a note from the engine'], [6, 'second']]);
    expect(log.offset).toBe(7);
  });

  it('keeps its start offset when the log it writes to numbers nothing', () => {
    const texts: string[] = [];
    const log = new JobLog(new SecretMasker([]), (entry) => { texts.push(entry.text); }, 3, 1024);
    log.system('printed, not stored');
    expect(texts).toEqual(['printed, not stored']);
    expect(log.offset).toBe(3);
  });

  it('keeps stdout and stderr partial lines apart', () => {
    const { log, lines } = capture([]);
    const out = log.openStep(1, 's');
    out.write('stdout', Buffer.from('out-'));
    out.write('stderr', Buffer.from('err\n'));
    out.write('stdout', Buffer.from('line\n'));
    expect(lines.map((l) => `${l.stream}:${l.text}`)).toEqual(['stderr:err', 'stdout:out-line']);
  });

  it('masks a secret split between two writes of one stream', () => {
    const { log, lines } = capture(['s3cr3t-token']);
    const out = log.openStep(0, 's');
    out.write('stdout', Buffer.from('token=s3cr3t'));
    out.write('stdout', Buffer.from('-token done\n'));
    out.end();
    expect(lines.map((l) => l.text)).toEqual(['token=*** done']);
  });

  it('stops storing at the limit with one warning, and drops a possible secret prefix cut by the limit', () => {
    const { log, lines } = capture(['abcdefgh'], 16);
    const out = log.openStep(0, 'noisy');
    out.write('stdout', Buffer.from('0123456789\nxxabcd'));
    out.write('stdout', Buffer.from('efgh and much more\n'));
    out.end();
    expect(lines.map((l) => l.text)).toEqual(['0123456789', 'xx', "warning: output of step 'noisy' exceeded 16 bytes; the rest of its output is not stored (the step keeps running)"]);
    expect(out.totalBytes).toBe(36);
    expect(out.wasTruncated).toBe(true);
  });

  it('masks secrets in system lines too', () => {
    const { log, lines } = capture(['hunter22']);
    log.system('deploying with hunter22');
    expect(lines[0]).toMatchObject({ stream: 'system', step: null, text: 'deploying with ***' });
  });
});
