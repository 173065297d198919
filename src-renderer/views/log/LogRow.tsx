import type { CSSProperties, ReactElement } from 'react';
import type { RowComponentProps } from 'react-window';
import { clockTime, formatDuration } from '../../app/format.js';
import { StatusIcon } from '../../components/StatusBadge.js';
import { annotationLocation, parseWorkflowCommand } from '../../../shared/model/workflow-commands.js';
import { parseAnsi, type AnsiStyle } from './ansi.js';
import { markMatches } from './highlight.js';
import type { LogPageCache } from './log-page-cache.js';
import type { RowMap } from './log-rows.js';

export interface LogRowProps {
  map: RowMap;
  pages: LogPageCache;
  /** Changes whenever the cache gets lines: tells react-window to re-render the visible rows. */
  version: number;
  folded: ReadonlySet<string>;
  showTimestamps: boolean;
  query: string;
  currentSeq: number | undefined;
  anchorSeq: number | undefined;
  lineHref: (lineNumber: number) => string;
  onToggle: (sectionKey: string) => void;
  /** Folds or unfolds the log group starting at this seq. */
  onToggleGroup: (start: number) => void;
  now: number;
}

function css(style: AnsiStyle): CSSProperties | undefined {
  if (!style.fg && !style.bg && !style.bold && !style.dim && !style.italic && !style.underline && !style.inverse) return undefined;
  const fg = style.inverse ? style.bg ?? '#0f1419' : style.fg;
  const bg = style.inverse ? style.fg ?? '#d0d5dc' : style.bg;
  return {
    color: fg, backgroundColor: bg, fontWeight: style.bold ? 700 : undefined, opacity: style.dim ? 0.7 : undefined,
    fontStyle: style.italic ? 'italic' : undefined, textDecoration: style.underline ? 'underline' : undefined,
  };
}

type Props = RowComponentProps<LogRowProps>;

const LEVEL_LABEL = { error: 'Error', warning: 'Warning', notice: 'Notice' } as const;

/** One row of the virtual log: a step header (fold toggle, status, duration), a log group's header, or a log line. */
export function LogRowView({ index, style, ariaAttributes, map, pages, folded, showTimestamps, query, currentSeq, anchorSeq, lineHref, onToggle, onToggleGroup, now }: Props): ReactElement | null {
  const row = map.rowAt(index);
  if (!row) return null;
  if (row.kind === 'group') {
    const g = row.group;
    const lines = g.end === null ? undefined : g.end - g.start - 1;
    return (
      <div {...ariaAttributes} style={style} className={`log-line log-group${g.start === anchorSeq ? ' anchored' : ''}`} data-seq={g.start} data-group={g.start} data-folded={row.folded ? 'true' : 'false'}>
        <a className="ln" href={lineHref(g.start + 1)} tabIndex={-1}>{g.start + 1}</a>
        <button type="button" className="log-group-toggle" style={{ marginLeft: `${g.depth * 14}px` }} onClick={() => onToggleGroup(g.start)} aria-expanded={!row.folded}>
          <span className="chevron">{row.folded ? '▸' : '▾'}</span>
          <span className="log-group-title">{g.title}</span>
          {lines !== undefined && <span className="log-group-meta">{lines.toLocaleString()} line{lines === 1 ? '' : 's'}</span>}
        </button>
      </div>
    );
  }
  if (row.kind === 'header') {
    const s = row.section;
    const isFolded = folded.has(s.key);
    const st = s.step;
    const dur = st ? (st.durationMs ?? (st.startedAt !== undefined ? (st.finishedAt ?? now) - st.startedAt : undefined)) : undefined;
    return (
      <div {...ariaAttributes} style={style} className={`log-step${st ? ` step-${st.status}` : ''}${s.rerunOf ? ' log-rerun' : ''}`} data-section={s.key}>
        <button type="button" className="log-step-toggle" onClick={() => onToggle(s.key)} aria-expanded={!isFolded}>
          <span className="chevron">{isFolded ? '▸' : '▾'}</span>
          {st ? <StatusIcon status={st.status} size={13} /> : <span className="status-icon status-setup">{s.rerunOf ? '↻' : s.key.startsWith('attempt:') ? '⏸' : '⚙'}</span>}
          <span className="log-step-title">{s.title}</span>
          {st?.exitCode !== undefined && st.exitCode !== 0 && <span className="log-step-exit">exit {st.exitCode}</span>}
          <span className="log-step-meta">{s.to - s.from > 0 ? `${(s.to - s.from).toLocaleString()} lines` : ''}</span>
          <span className="log-step-time">{dur !== undefined ? formatDuration(dur) : ''}</span>
        </button>
      </div>
    );
  }
  const line = pages.line(row.seq);
  const n = row.seq + 1;
  // An annotation line reads as what it says, not as its syntax (search still matches the raw text).
  const cmd = line && line.stream !== 'system' ? parseWorkflowCommand(line.text) : undefined;
  const annotation = cmd?.kind === 'annotation' ? cmd : undefined;
  const cls = `log-line${line ? ` stream-${line.stream}` : ' loading'}${annotation ? ` log-annotation level-${annotation.level}` : ''}${row.seq === currentSeq ? ' current-match' : ''}${row.seq === anchorSeq ? ' anchored' : ''}`;
  return (
    <div {...ariaAttributes} style={style} className={cls} data-seq={row.seq} data-ts={line?.ts}>
      <a className="ln" href={lineHref(n)} tabIndex={-1}>{n}</a>
      {showTimestamps && <span className="ts">{line ? clockTime(line.ts) : ''}</span>}
      <span className="txt">
        {annotation && <span className="annotation-label">{LEVEL_LABEL[annotation.level]}{annotation.title ? ` (${annotation.title})` : ''}: {annotationLocation(annotation) && <span className="annotation-where">{annotationLocation(annotation)} </span>}</span>}
        {annotation ? markMatches(parseAnsi(annotation.message), query).map((seg, i) => (seg.mark
          ? <mark key={i} style={css(seg.style)}>{seg.text}</mark>
          : <span key={i} style={css(seg.style)}>{seg.text}</span>)) : line ? markMatches(parseAnsi(line.text), query).map((seg, i) => (seg.mark
          ? <mark key={i} style={css(seg.style)}>{seg.text}</mark>
          : <span key={i} style={css(seg.style)}>{seg.text}</span>)) : '\u00a0'}
      </span>
    </div>
  );
}
