/**
 * Turns a job's raw output into log entries: mask (bytes) → split into lines → decode → hand to the
 * job's log. The executor does not number lines: the log it appends to does (the engine's log store,
 * once, for every writer), and hands back each line's seq, which `JobLog.offset` follows.
 *
 * Masking happens on bytes before line splitting, so a secret split across chunks or across the
 * stdout/stderr demultiplexing frames is still caught, and a multi-byte character split across
 * chunks is decoded whole. A partial last line is kept until its newline or the end of the step.
 * Lines longer than MAX_LINE_BYTES are cut (binary output without newlines must not grow a line
 * without bound). A line that is not valid UTF-8 is shown with its non-UTF-8 bytes as `\xNN`
 * escapes rather than replacement characters, so nothing is silently lost.
 */
import { isUtf8 } from 'node:buffer';
import type { LogEntry, LogLine, LogStream } from '../../shared/model/run.js';
import type { Annotation } from '../../shared/model/job-records.js';
import type { JobRecord } from '../core/job-contract.js';
import { SecretMasker, type MaskStream } from './secret-masker.js';
import { DEFAULT_COMMAND_LIMITS, StepCommands, type CommandSink } from './step-commands.js';
import { formatLimit } from '../../shared/format.js';

const MAX_LINE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** The text of one line of bytes: UTF-8 when valid, otherwise with escaped bytes. */
export function decodeLine(bytes: Buffer): string {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] < 0x80) continue;
    // Take the longest valid UTF-8 sequence starting here (2–4 bytes), else escape one byte.
    let taken = 0;
    for (let len = 4; len >= 2 && taken === 0; len--) {
      if (i + len <= bytes.length && isUtf8(bytes.subarray(i, i + len))) taken = len;
    }
    if (taken > 0) {
      i += taken - 1;
      continue;
    }
    out += bytes.subarray(start, i).toString('utf8') + `\\x${bytes[i].toString(16).padStart(2, '0')}`;
    start = i + 1;
  }
  return out + bytes.subarray(start).toString('utf8');
}

/** Splits a byte stream into lines; emits each complete line (without its newline). */
class LineSplitter {
  private partial: Buffer[] = [];
  private partialLength = 0;

  constructor(private readonly emit: (line: Buffer) => void) {}

  write(data: Buffer): void {
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
      this.push(data.subarray(start, nl));
      this.flush();
      start = nl + 1;
    }
    if (start < data.length) this.push(data.subarray(start));
  }

  end(): void {
    if (this.partialLength > 0) this.flush();
  }

  private push(piece: Buffer): void {
    while (this.partialLength + piece.length > MAX_LINE_BYTES) {
      const room = MAX_LINE_BYTES - this.partialLength;
      this.partial.push(piece.subarray(0, room));
      this.partialLength += room;
      this.flush();
      piece = piece.subarray(room);
    }
    if (piece.length > 0) {
      this.partial.push(piece);
      this.partialLength += piece.length;
    }
  }

  private flush(): void {
    const line = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial);
    this.partial = [];
    this.partialLength = 0;
    this.emit(line);
  }
}

/**
 * Appends one line to a job's log, which numbers it, and returns it with its seq; a log that keeps no
 * numbering (`kiln run` prints lines) returns nothing.
 */
export type LogAppend = (line: LogEntry) => LogLine | void;

/**
 * Values masked with `::add-mask::`, job-wide from the line after the command. Step output was
 * already byte-masked (and split into lines) ahead of the line that adds a value, so added values
 * are masked again per line as each line is handed on; a step that starts later also byte-masks them.
 */
class AddedMasks {
  private readonly values = new Set<string>();

  get size(): number {
    return this.values.size;
  }

  add(value: string): boolean {
    // A value of stars alone (`::add-mask::***` of an already masked secret) adds nothing but noise.
    if (/^[*\s]*$/.test(value) || this.values.has(value)) return false;
    this.values.add(value);
    return true;
  }

  list(): Iterable<string> {
    return this.values;
  }
}

/**
 * The log of one job: masks everything and appends it to the job's log. Not re-entrant. Step output
 * passes through the step's workflow commands (step-commands.ts) after masking; what they produce,
 * and Kiln's own annotations, go to `record`. Values a step adds with `::add-mask::` join the
 * secrets for everything masked from then on: lines (stored and live alike, as both take what
 * `append` gets), annotations, summaries, outputs and the job's error.
 */
export class JobLog {
  private next: number;
  private readonly commands: CommandSink;
  private readonly added = new AddedMasks();
  /** The masker for step output: the secrets and the added values (rebuilt when values are added). */
  private stepMasker: SecretMasker;

  /** `offset` is the seq the log gives its next line when the job starts; `stepDebug` shows `::debug::` lines. */
  constructor(
    private readonly masker: SecretMasker,
    private readonly append: LogAppend,
    offset: number,
    private readonly maxStepOutputBytes: number,
    private readonly record: (r: JobRecord) => void = () => undefined,
    options: { stepDebug?: boolean } = {},
  ) {
    this.next = offset;
    this.stepMasker = masker;
    this.commands = {
      limits: DEFAULT_COMMAND_LIMITS,
      counts: { groups: 0, annotations: 0, warned: new Set() },
      debug: options.stepDebug ?? false,
      addMask: (value) => {
        if (this.added.add(value)) this.stepMasker = this.masker.including(this.added.list());
      },
      record: (r) => this.emitRecord(r),
      warn: (text) => this.system(text),
    };
  }

  /** Kiln's own annotation about the job (a step failed, the job timed out): an error linked to its log line. */
  annotate(a: Pick<Annotation, 'level' | 'message' | 'step' | 'seq'>): void {
    this.emitRecord({ kind: 'annotation', annotation: { ...a, message: this.mask(a.message), source: 'kiln' } });
  }

  /** A job record for the caller (summaries come from job-steps.ts). */
  emitRecord(r: JobRecord): void {
    try {
      this.record(r);
    } catch {
      // As with lines: a listener's failure must not break the job.
    }
  }

  /** The seq the log gives the next line: one past the last line it numbered (the start offset before any). */
  get offset(): number {
    return this.next;
  }

  /** A job-level (or step-level, when `step` is given) line from Kiln itself; masked too. Returns the seq of its first line, when numbered. */
  system(text: string, step: number | null = null): number | undefined {
    let first: number | undefined;
    for (const line of this.mask(text).split('\n')) first ??= this.line('system', step, line)?.seq;
    return first;
  }

  /** Masks a message meant for a result's `error` field (or a summary, an output): secrets and added masks. */
  mask(text: string): string {
    return this.stepMasker.maskString(text);
  }

  /** Text already masked for the secrets, masked again once values were added (the secrets' masker with them, its options and all). */
  private maskAdded(text: string): string {
    return this.added.size === 0 ? text : this.stepMasker.maskString(text);
  }

  /**
   * Masks the start of a longer text (a file read up to a limit): what comes back is final, and
   * the bytes at the end that may begin a secret running on past `head` are left out, not shown.
   */
  maskHead(head: Buffer): Buffer {
    return this.stepMasker.createStream().write(head);
  }

  /** A sink for one step's output; call end() once the step's streams are closed. */
  openStep(step: number, stepName: string): StepOutput {
    const commands = new StepCommands(step, this.commands, (stream, text) => this.line(stream, step, text));
    return new StepOutput(this.stepMasker, step, stepName, this.maxStepOutputBytes, (stream, text) => {
      if (stream === 'system') this.line(stream, step, text);
      // Masked again before its commands are read: a value added a line ago is in bytes already split.
      else commands.line(stream, this.maskAdded(text));
    }, () => commands.end(this.next));
  }

  /** A sink for output that is not a step's (service logs, hooks), logged as `system` lines. */
  line(stream: LogStream, step: number | null, text: string): LogLine | undefined {
    try {
      // Added masks apply to every line from the one after the command (the command's own line included).
      const stored = this.append({ ts: Date.now(), stream, step, text: this.maskAdded(text) });
      if (stored) this.next = stored.seq + 1;
      return stored || undefined;
    } catch {
      // A listener's failure must not break the job (it is the caller's log sink).
      return undefined;
    }
  }
}

const NO_SPACE = /no space left on device/i;

/** One step's stdout and stderr: separate masks and line buffers, one shared byte budget. */
export class StepOutput {
  private readonly streams: Record<'stdout' | 'stderr', { mask: MaskStream; lines: LineSplitter }>;
  private bytes = 0;
  private truncated = false;
  private ended = false;
  /** The step's stderr said "No space left on device". */
  sawDiskFull = false;

  constructor(
    masker: SecretMasker,
    private readonly step: number,
    private readonly stepName: string,
    private readonly limit: number,
    private readonly emit: (stream: LogStream, text: string) => void,
    private readonly onEnd: () => void = () => undefined,
  ) {
    const make = (stream: 'stdout' | 'stderr') => ({
      mask: masker.createStream(),
      lines: new LineSplitter((line) => {
        const text = decodeLine(line);
        // A write in the container that found no room (its disk is the Docker engine's storage).
        if (stream === 'stderr' && !this.sawDiskFull && NO_SPACE.test(text)) this.sawDiskFull = true;
        this.emit(stream, text);
      }),
    });
    this.streams = { stdout: make('stdout'), stderr: make('stderr') };
  }

  /** Total bytes the step wrote, stored or not. */
  get totalBytes(): number {
    return this.bytes;
  }

  get wasTruncated(): boolean {
    return this.truncated;
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.ended) return;
    const before = this.bytes;
    this.bytes += chunk.length;
    if (this.truncated) return;
    if (this.bytes > this.limit) {
      this.feed(stream, chunk.subarray(0, Math.max(0, this.limit - before)));
      this.truncated = true;
      // Bytes the masks still hold back may be the start of a secret cut off by the limit: drop them.
      for (const st of Object.values(this.streams)) st.lines.end();
      this.emit('system', `warning: output of step '${this.stepName}' exceeded ${formatLimit(this.limit)}; the rest of its output is not stored (the step keeps running)`);
      return;
    }
    this.feed(stream, chunk);
  }

  end(): void {
    if (this.ended) return;
    if (!this.truncated) this.flush();
    this.ended = true;
    this.onEnd();
  }

  private feed(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const s = this.streams[stream];
    const masked = s.mask.write(chunk);
    if (masked.length > 0) s.lines.write(masked);
  }

  private flush(): void {
    for (const s of Object.values(this.streams)) {
      const rest = s.mask.end();
      if (rest.length > 0) s.lines.write(rest);
      s.lines.end();
    }
  }

  get index(): number {
    return this.step;
  }
}
