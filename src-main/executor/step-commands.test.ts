import { describe, expect, it } from 'vitest';
import type { LogEntry, LogLine } from '../../shared/model/run.js';
import type { JobRecord } from '../core/job-contract.js';
import { JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';
import { stepDebugEnabled } from './step-commands.js';

/** A JobLog over a numbering log (as the engine's), collecting lines and records. */
function capture(secrets: string[] = [], stepDebug = false): { log: JobLog; lines: LogLine[]; records: JobRecord[] } {
  const lines: LogLine[] = [];
  const records: JobRecord[] = [];
  const append = (entry: LogEntry): LogLine => {
    const line = { seq: lines.length, ...entry };
    lines.push(line);
    return line;
  };
  return { log: new JobLog(new SecretMasker(secrets), append, 0, 1024 * 1024, (r) => records.push(r), { stepDebug }), lines, records };
}

const groups = (records: JobRecord[]) => records.flatMap((r) => (r.kind === 'group' ? [r.group] : []));
const annotations = (records: JobRecord[]) => records.flatMap((r) => (r.kind === 'annotation' ? [r.annotation] : []));

describe('workflow commands in a step\'s output', () => {
  it('keeps every line in the log and reports a group when it opens and again when it closes', () => {
    const { log, lines, records } = capture();
    const out = log.openStep(1, 'build');
    out.write('stdout', Buffer.from('before\n::group::Compile\ncc a.c\n::endgroup::\nafter\n'));
    out.end();
    expect(lines.map((l) => l.text)).toEqual(['before', '::group::Compile', 'cc a.c', '::endgroup::', 'after']);
    expect(groups(records)).toEqual([
      { start: 1, end: null, endMarker: false, depth: 0, step: 1, title: 'Compile' },
      { start: 1, end: 3, endMarker: true, depth: 0, step: 1, title: 'Compile' },
    ]);
  });

  it('nests groups and closes those still open when the step ends, before the next line', () => {
    const { log, records } = capture();
    const out = log.openStep(0, 'test');
    out.write('stdout', Buffer.from('::group::outer\n::group::inner\nx\n::endgroup::\ny\n'));
    out.end();
    log.system('step done');
    const closed = groups(records).filter((g) => g.end !== null);
    expect(closed).toEqual([
      { start: 1, end: 3, endMarker: true, depth: 1, step: 0, title: 'inner' },
      { start: 0, end: 5, endMarker: false, depth: 0, step: 0, title: 'outer' },
    ]);
  });

  it('treats an ::endgroup:: without an open group as an ordinary line', () => {
    const { log, lines, records } = capture();
    const out = log.openStep(0, 's');
    out.write('stdout', Buffer.from('::endgroup::\n'));
    out.end();
    expect(lines).toHaveLength(1);
    expect(records).toEqual([]);
  });

  it('turns ::error lines of stdout and stderr into annotations linked to their line', () => {
    const { log, records } = capture();
    const out = log.openStep(2, 'lint');
    out.write('stderr', Buffer.from('::error file=src/a.ts,line=3,col=7::Missing semicolon\n'));
    out.write('stdout', Buffer.from('::notice::All good otherwise\n'));
    out.end();
    expect(annotations(records)).toEqual([
      { level: 'error', message: 'Missing semicolon', file: 'src/a.ts', line: 3, col: 7, source: 'step', seq: 0, step: 2 },
      { level: 'notice', message: 'All good otherwise', source: 'step', seq: 1, step: 2 },
    ]);
  });

  it('masks secrets before parsing, so an annotation or a group title never holds one', () => {
    const { log, lines, records } = capture(['hunter2secret']);
    const out = log.openStep(0, 's');
    out.write('stdout', Buffer.from('::group::deploy with hunter2'));
    out.write('stdout', Buffer.from('secret\n::error title=hunter2secret::token hunter2secret rejected\n'));
    out.end();
    expect(JSON.stringify(records)).not.toContain('hunter2secret');
    expect(JSON.stringify(lines)).not.toContain('hunter2secret');
    expect(groups(records)[0].title).toBe('deploy with ***');
    expect(annotations(records)[0]).toMatchObject({ message: 'token *** rejected', title: '***' });
  });

  it('ignores commands in Kiln\'s own system lines', () => {
    const { log, records } = capture();
    log.system('::error::not from a step');
    expect(records).toEqual([]);
  });

  it('stops listing annotations past the job\'s limit, with one warning line', () => {
    const { log, lines, records } = capture();
    const out = log.openStep(0, 's');
    out.write('stdout', Buffer.from('::warning::w\n'.repeat(105)));
    out.end();
    expect(annotations(records)).toHaveLength(100);
    expect(lines.filter((l) => l.stream === 'system' && l.text.includes('more than 100 annotations'))).toHaveLength(1);
  });

  it('annotates Kiln\'s own message once, linked to the line that says it', () => {
    const { log, lines, records } = capture();
    log.annotate({ level: 'error', message: "step 'Lint' failed with exit code 1", step: 0, seq: log.system("step 'Lint' failed with exit code 1", 0) });
    expect(lines.filter((l) => l.text.includes('failed with exit code'))).toHaveLength(1);
    expect(annotations(records)).toEqual([{ level: 'error', message: "step 'Lint' failed with exit code 1", step: 0, seq: 0, source: 'kiln' }]);
  });

  describe('::add-mask::', () => {
    it('masks the value from the very next line of the same chunk on, and shows its own line masked', () => {
      const { log, lines } = capture();
      const out = log.openStep(0, 'login');
      out.write('stdout', Buffer.from('before hunter2\n::add-mask::hunter2\ntoken hunter2 ok\n'));
      out.write('stderr', Buffer.from('err: hunter'));
      out.write('stderr', Buffer.from('2\n'));
      out.end();
      expect(lines.map((l) => l.text)).toEqual(['before hunter2', '::add-mask::***', 'token *** ok', 'err: ***']);
    });

    it('masks the value in later steps of the job, even split across chunks', () => {
      const { log, lines } = capture();
      const first = log.openStep(0, 'a');
      first.write('stdout', Buffer.from('::add-mask::s3cr3t-value\n'));
      first.end();
      const second = log.openStep(1, 'b');
      second.write('stdout', Buffer.from('x s3cr3t-'));
      second.write('stdout', Buffer.from('value y\n'));
      second.end();
      expect(lines.map((l) => l.text)).toEqual(['::add-mask::***', 'x *** y']);
    });

    it('masks the value in annotations, group titles, Kiln\'s own lines and what the job masks for results', () => {
      const { log, lines, records } = capture();
      const out = log.openStep(0, 'a');
      out.write('stdout', Buffer.from('::add-mask::hunter2\n::group::deploy hunter2\n::error title=hunter2::bad hunter2\n'));
      out.end();
      log.system('step failed near hunter2');
      log.annotate({ level: 'error', message: 'hunter2 rejected', step: 0, seq: 0 });
      expect(JSON.stringify(lines)).not.toContain('hunter2');
      expect(JSON.stringify(records)).not.toContain('hunter2');
      expect(groups(records)[0].title).toBe('deploy ***');
      expect(annotations(records)[0]).toMatchObject({ message: 'bad ***', title: '***' });
      expect(log.mask('output=hunter2')).toBe('output=***');
    });

    it('masks a value that holds a job secret (its masked form), and ignores a value that is only a masked secret', () => {
      const { log, lines } = capture(['TOPSECRET']);
      const out = log.openStep(0, 'a');
      out.write('stdout', Buffer.from('::add-mask::TOPSECRET\n::add-mask::user-TOPSECRET\nuser-TOPSECRET and a *** star line\n'));
      out.end();
      expect(lines.map((l) => l.text)).toEqual(['::add-mask::***', '::add-mask::***', '*** and a *** star line']);
    });
  });

  describe('::debug::', () => {
    it('drops debug lines when step debug logging is off', () => {
      const { log, lines } = capture();
      const out = log.openStep(0, 'a');
      out.write('stdout', Buffer.from('one\n::debug::cache miss\ntwo\n'));
      out.end();
      expect(lines.map((l) => l.text)).toEqual(['one', 'two']);
    });

    it('keeps debug lines when step debug logging is on', () => {
      const { log, lines } = capture([], true);
      const out = log.openStep(0, 'a');
      out.write('stdout', Buffer.from('::debug::cache miss\n'));
      out.end();
      expect(lines.map((l) => l.text)).toEqual(['::debug::cache miss']);
    });

    it('turns step debug logging on only for KILN_STEP_DEBUG=true in the job\'s env', () => {
      expect(stepDebugEnabled({ KILN_STEP_DEBUG: 'true' })).toBe(true);
      expect(stepDebugEnabled({ KILN_STEP_DEBUG: 'TRUE' })).toBe(true);
      expect(stepDebugEnabled({ KILN_STEP_DEBUG: '1' })).toBe(false);
      expect(stepDebugEnabled({})).toBe(false);
    });
  });

  describe('::stop-commands::', () => {
    it('processes no command until the token line, shows every line as printed, then processes again', () => {
      const { log, lines, records } = capture();
      const out = log.openStep(0, 'a');
      out.write('stdout', Buffer.from([
        '::stop-commands::tok-42', '::add-mask::hunter2', '::error::not an annotation', '::debug::shown as is', '::group::not a group',
        'hunter2', '::tok-42::', '::warning::an annotation again', 'hunter2', '',
      ].join('\n')));
      out.end();
      expect(lines.map((l) => l.text)).toEqual([
        '::stop-commands::tok-42', '::add-mask::hunter2', '::error::not an annotation', '::debug::shown as is', '::group::not a group',
        'hunter2', '::tok-42::', '::warning::an annotation again', 'hunter2',
      ]);
      expect(groups(records)).toEqual([]);
      expect(annotations(records)).toEqual([{ level: 'warning', message: 'an annotation again', source: 'step', seq: 7, step: 0 }]);
    });

    it('ends with its step: the next step processes commands again', () => {
      const { log, records } = capture();
      const first = log.openStep(0, 'a');
      first.write('stdout', Buffer.from('::stop-commands::never-resumed\n'));
      first.end();
      const second = log.openStep(1, 'b');
      second.write('stdout', Buffer.from('::notice::processed\n'));
      second.end();
      expect(annotations(records)).toHaveLength(1);
    });
  });

  it('keeps unknown commands as ordinary lines', () => {
    const { log, lines, records } = capture();
    const out = log.openStep(0, 'a');
    out.write('stdout', Buffer.from('::set-output name=x::y\n::save-state name=s::v\n'));
    out.end();
    expect(lines.map((l) => l.text)).toEqual(['::set-output name=x::y', '::save-state name=s::v']);
    expect(records).toEqual([]);
  });
});
