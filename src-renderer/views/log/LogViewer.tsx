import { useCallback, useEffect, useMemo, useRef, useState, type UIEvent } from 'react';
import { List, useListRef } from 'react-window';
import type { LogChunk } from '../../../shared/api/engine-api.js';
import type { JobSummary } from '../../../shared/model/run.js';
import { isTerminal } from '../../../shared/model/status.js';
import { useClient, useTicker } from '../../app/hooks.js';
import { href } from '../../app/route.js';
import { DownloadLink } from '../../components/DownloadLink.js';
import { LogRowView, type LogRowProps } from './LogRow.js';
import { buildSections, RowMap, splitReruns } from './log-rows.js';
import { isAttemptSection, splitAttempts } from './log-attempts.js';
import { LogPageCache } from './log-page-cache.js';
import { useLogGroups } from './use-log-groups.js';
import { SEARCH_LIMIT, useLogSearch } from './use-log-search.js';

/** 20 px rows: 1,000,000 lines are 20M px, under Chromium's ~33.5M px limit for one element's height. */
export const ROW_HEIGHT = 20;
/** How long after the first page the list waits for the log groups before showing lines unfolded. */
const GROUPS_GRACE_MS = 150;

/**
 * The job log: a react-window list over a page cache of the log, live follow (auto-scroll that
 * pauses when the user scrolls up), foldable steps and log groups (`::group::`, from stored metadata:
 * closed by default once their step has finished, open while it streams), server-side search with
 * next/previous, #L<n> line links, timestamps and the raw download.
 */
export function LogViewer({ runId, job, line, firstPage }: { runId: string; job: JobSummary; line?: number; firstPage?: Promise<LogChunk> }) {
  const client = useClient();
  const jobId = job.id;
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [folded, setFolded] = useState<ReadonlySet<string>>(new Set());
  const [showTimestamps, setShowTimestamps] = useState(false);
  const [follow, setFollow] = useState(true);
  const listRef = useListRef(null);
  const search = useLogSearch(client, jobId);
  const pages = useMemo(() => new LogPageCache((offset, limit) => client.getLog(jobId, offset, limit), () => setVersion((v) => v + 1)), [client, jobId]);
  const live = !isTerminal(job.status);
  const now = useTicker(live);

  const groups = useLogGroups(client, job, live);
  const observeRef = useRef(groups.observe);
  observeRef.current = groups.observe;

  // Load the first page, then follow the live tail (when the job is still going). Live lines go past
  // the groups first, so a streamed ::group:: line is a group header from its first frame.
  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    setError(undefined);
    pages.init(firstPage, !live).then(() => {
      if (cancelled || pages.complete) return;
      stop = client.followLog(jobId, pages.total, (lines) => { observeRef.current(lines); pages.append(lines); }, () => pages.markComplete());
    }, (e: unknown) => { if (!cancelled) setError((e as Error).message); });
    return () => { cancelled = true; stop?.(); pages.dispose(); };
  }, [client, jobId, pages]); // `live` and `firstPage` only matter at start

  // Lines show without waiting long for the group metadata: if it is not there shortly after the
  // first page, the list shows unfolded and folds once it arrives (a #L link still waits for it).
  const [groupsLate, setGroupsLate] = useState(false);
  const firstPageIn = pages.total > 0 || pages.complete;
  useEffect(() => {
    if (!firstPageIn || groups.list !== undefined) return undefined;
    const t = setTimeout(() => setGroupsLate(true), GROUPS_GRACE_MS);
    return () => clearTimeout(t);
  }, [firstPageIn, groups.list === undefined]);
  // A failed step's re-runs (a job kept for debugging) are sections of their own: see splitReruns.
  // So is an attempt interrupted by a restart or a lost engine: see splitAttempts.
  const { sections, groups: groupList } = useMemo(() => {
    const attempts = splitAttempts(buildSections(job.steps, pages.total), groups.list ?? []);
    return splitReruns(attempts.sections, attempts.groups);
  }, [job.steps, pages.total, version, groups.list]);
  const map = useMemo(() => new RowMap(sections, folded, groupList, groups.isFolded), [sections, folded, groupList, groups.isFolded]);

  // The latest layout, for scrolls that run a frame or two after a fold changed it: the map a callback
  // closed over may still be the folded one, whose rows end before the row to scroll to.
  const mapRef = useRef(map);
  mapRef.current = map;
  const scrollToRow = useCallback((index: number, align: 'center' | 'end' | 'start' = 'center') => {
    if (index >= 0 && index < mapRef.current.rowCount) listRef.current?.scrollToRow({ index, align, behavior: 'instant' });
  }, [listRef]);

  // Follow: keep the last row in view while new lines arrive, until the user scrolls up.
  useEffect(() => {
    if (follow && line === undefined && map.rowCount > 0 && live) scrollToRow(map.rowCount - 1, 'end');
  }, [follow, live, map, line, scrollToRow]);

  /** Makes sure `seq`'s step is unfolded, then scrolls to it (after the re-render when it was folded). */
  const revealRef = useRef<(seq: number, tries?: number) => void>(() => undefined);
  const reveal = useCallback((seq: number, tries = 0) => {
    const around = map.groupsAround(seq).filter((g) => groups.isFolded(g));
    if (around.length > 0 && tries < 3) {
      // Open the groups around it first; scroll once the list has re-rendered with them open.
      groups.unfold(around);
      requestAnimationFrame(() => requestAnimationFrame(() => revealRef.current(seq, tries + 1)));
      return;
    }
    const section = map.sectionOfSeq(seq);
    if (section && folded.has(section.key)) {
      setFolded((f) => { const n = new Set(f); n.delete(section.key); return n; });
      requestAnimationFrame(() => requestAnimationFrame(() => scrollToRow(mapRef.current.rowOfSeq(seq))));
      return;
    }
    scrollToRow(map.rowOfSeq(seq));
  }, [map, folded, scrollToRow, groups]);
  revealRef.current = reveal;

  // #L<n>: scroll to the linked line once it exists (and the groups that may fold it are known).
  const anchorSeq = line !== undefined ? line - 1 : undefined;
  const reachable = anchorSeq !== undefined && anchorSeq < pages.total && groups.list !== undefined;
  useEffect(() => {
    if (anchorSeq === undefined || !reachable) return;
    setFollow(false);
    reveal(anchorSeq);
    // Only when the anchor changes or first becomes reachable.
  }, [anchorSeq, reachable]);

  // Search: go to the current match.
  const currentMatch = search.matches[search.index];
  useEffect(() => {
    if (!currentMatch) return;
    setFollow(false);
    reveal(currentMatch.seq);
  }, [currentMatch]);

  const step = (delta: number): void => {
    if (search.matches.length === 0) return;
    search.setIndex((search.index + delta + search.matches.length) % search.matches.length);
  };

  const onScroll = (e: UIEvent<HTMLDivElement>): void => {
    const el = e.currentTarget;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 2;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const toggle = useCallback((key: string) => setFolded((f) => {
    const n = new Set(f);
    if (n.has(key)) n.delete(key); else n.add(key);
    return n;
  }), []);

  const lineHref = useCallback((n: number) => href({ view: 'job', runId, jobId, line: n }), [runId, jobId]);

  const rowProps: LogRowProps = {
    map, pages, version, folded, showTimestamps, query: search.query, currentSeq: currentMatch?.seq, anchorSeq, lineHref, onToggle: toggle,
    onToggleGroup: groups.toggle, now,
  };
  const stepSections = sections.filter((s) => s.step !== null || s.rerunOf !== undefined || s.key === 'setup' || s.key.startsWith('after:') || isAttemptSection(s));
  const allFolded = stepSections.length > 0 && stepSections.every((s) => folded.has(s.key));

  return (
    <div className="log-viewer" data-testid="log-viewer" data-job-id={jobId} data-lines={pages.total} data-complete={pages.complete ? 'true' : 'false'}
      data-groups={groups.list?.length ?? ''}>
      <div className="log-toolbar">
        <select className="jump" value="" onChange={(e) => {
          const key = e.target.value;
          if (!key) return;
          setFollow(false);
          setFolded((f) => { const n = new Set(f); n.delete(key); return n; });
          requestAnimationFrame(() => scrollToRow(mapRef.current.rowOfSection(key), 'start'));
        }} aria-label="Jump to step" name="jump-to-step">
          <option value="">Jump to step…</option>
          {stepSections.map((s) => <option key={s.key} value={s.key}>{s.title}</option>)}
        </select>
        <button type="button" className="btn btn-sm btn-dark" onClick={() => setFolded(allFolded ? new Set() : new Set(stepSections.map((s) => s.key)))}>
          {allFolded ? 'Unfold all' : 'Fold all'}
        </button>
        <div className="search-box">
          <input type="search" placeholder="Search log" value={search.query} name="log-search" aria-label="Search log"
            onChange={(e) => search.setQuery(e.target.value)}
            onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); if (search.resultFor === search.query && search.matches.length > 0) step(e.shiftKey ? -1 : 1); else search.runNow(); } }} />
          <span className="search-count" data-testid="log-search-count" data-count={search.searching || search.partial ? '' : String(search.matches.length)}>
            {search.query ? (search.searching ? '…' : search.error ? 'error' : search.matches.length === 0 ? 'no matches'
              : `${search.index + 1} of ${search.matches.length.toLocaleString()}${search.partial ? '+…' : search.matches.length >= SEARCH_LIMIT ? '+' : ''}`) : ''}
          </span>
          <button type="button" className="icon-btn" title="Previous match (Shift+Enter)" disabled={search.matches.length === 0} onClick={() => step(-1)} aria-label="Previous match">↑</button>
          <button type="button" className="icon-btn" title="Next match (Enter)" disabled={search.matches.length === 0} onClick={() => step(1)} aria-label="Next match">↓</button>
        </div>
        <label className="toggle">
          <input type="checkbox" checked={showTimestamps} onChange={(e) => setShowTimestamps(e.target.checked)} name="timestamps" /> Times
        </label>
        <div className="spacer" />
        {live && (
          <button type="button" className={`btn btn-sm ${follow ? 'btn-live' : 'btn-dark'}`} data-action="follow"
            onClick={() => { setFollow(true); scrollToRow(map.rowCount - 1, 'end'); }} title="Keep the newest line in view">
            {follow ? '● Following' : '↓ Follow'}
          </button>
        )}
        <DownloadLink className="btn btn-sm btn-dark" href={client.rawLogUrl(jobId)} download={`${job.name}.log`} action="download-log">⤓ Raw log</DownloadLink>
      </div>
      {error && <div className="log-error">Could not load the log: {error}</div>}
      {(groups.list !== undefined || groupsLate) && <List className="log-list" listRef={listRef} rowComponent={LogRowView} rowCount={map.rowCount} rowHeight={ROW_HEIGHT}
        rowProps={rowProps} overscanCount={20} onScroll={onScroll}
        onRowsRendered={(visible) => { for (const [from, to] of map.seqRuns(visible.startIndex - 40, visible.stopIndex + 40)) pages.ensure(from, to); }} />}
      <div className="log-status">
        <span>{pages.total.toLocaleString()} lines</span>
        <span>{pages.complete ? 'complete' : live ? 'streaming…' : ''}</span>
      </div>
    </div>
  );
}
