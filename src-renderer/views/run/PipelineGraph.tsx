import { useMemo } from 'react';
import { Background, Controls, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { KeptJobInfo } from '../../../shared/api/engine-api.js';
import type { JobSummary, RunDetail } from '../../../shared/model/run.js';
import type { Status } from '../../../shared/model/status.js';
import { StatusIcon } from '../../components/StatusBadge.js';
import { elapsed, formatDuration } from '../../app/format.js';
import { DebugBadge } from '../debug/kept-jobs.js';
import { layoutRun, NODE_H, NODE_W } from './graph-layout.js';

type JobNodeData = { job: JobSummary; now: number; selected: boolean; href: string; kept?: KeptJobInfo };
type StageNodeData = { label: string };
type JobNodeType = Node<JobNodeData, 'job'>;
type StageNodeType = Node<StageNodeData, 'stage'>;

/** Colour family of a status: green passed, red failed, grey queued/skipped, orange cancelled/timed out, blue running. */
export function tone(status: Status): 'ok' | 'bad' | 'idle' | 'warn' | 'live' {
  switch (status) {
    case 'passed': return 'ok';
    case 'failed': return 'bad';
    case 'cancelled': case 'timed_out': return 'warn';
    case 'running': return 'live';
    default: return 'idle';
  }
}

// A job node is a link to the job's log, like the job table's links: a plain click, a middle click
// (new tab) and Enter all work. `nopan` keeps xyflow's pan gesture off it: the graph is not
// draggable, so a click whose pointer moved a pixel would otherwise become a pan and be swallowed.
// (The link is the focus stop, so xyflow's own node wrappers are not focusable.)
function JobNode({ data }: NodeProps<JobNodeType>) {
  const { job, now, selected, href, kept } = data;
  const d = elapsed(job, now);
  // A kept job waits for a person, not for its steps: it says so instead of a running time.
  return (
    <a href={href} className={`job-node nopan tone-${kept ? 'debug' : tone(job.status)}${selected ? ' selected' : ''}`} data-job-id={job.id} data-status={job.status}
      data-debug={kept ? 'waiting' : undefined} title={kept ? `${job.name}: waiting for debug` : job.error ?? job.name}
      style={{ width: NODE_W, height: NODE_H }}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <StatusIcon status={kept ? 'failed' : job.status} size={16} />
      <span className="job-node-name">{job.name}</span>
      {kept ? <DebugBadge kept={kept} now={now} compact />
        : <span className="job-node-time">{job.status === 'skipped' ? 'skipped' : job.status === 'queued' ? (job.approval?.state === 'waiting' ? 'needs approval' : '') : formatDuration(d)}</span>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </a>
  );
}

function StageNode({ data }: NodeProps<StageNodeType>) {
  return <div className="stage-node"><span className="stage-label">{data.label}</span></div>;
}

const nodeTypes = { job: JobNode, stage: StageNode };

// Declared, not measured: the nodes are rebuilt on every live update, and xyflow forgets measured
// handle positions of a rebuilt node (its edges would vanish until a resize).
const HANDLES: NonNullable<Node['handles']> = [
  { type: 'target', position: Position.Left, x: -3, y: NODE_H / 2 - 3, width: 6, height: 6 },
  { type: 'source', position: Position.Right, x: NODE_W - 3, y: NODE_H / 2 - 3, width: 6, height: 6 },
];

/** `jobHref` gives the link that opens a job's log (the route the job table links to); `kept`: the run's jobs kept for debugging. */
export function PipelineGraph({ run, now, selectedJobId, jobHref, kept }: {
  run: RunDetail; now: number; selectedJobId?: string; jobHref: (jobId: string) => string; kept?: ReadonlyMap<string, KeptJobInfo>;
}) {
  const layout = useMemo(() => layoutRun(run), [run]);
  const { nodes, edges } = useMemo(() => {
    const nodes: Array<JobNodeType | StageNodeType> = [];
    for (const g of layout.groups) {
      nodes.push({ id: g.id, type: 'stage', position: { x: g.x, y: g.y }, data: { label: g.label },
        // Known sizes: xyflow then never hides a node while it re-measures (the nodes are rebuilt every second while running).
        width: g.width, height: g.height,
        draggable: false, selectable: false, focusable: false });
    }
    for (const j of layout.jobs) {
      nodes.push({ id: j.job.id, type: 'job', position: { x: j.x, y: j.y }, parentId: j.groupId, extent: j.groupId ? 'parent' : undefined,
        data: { job: j.job, now, selected: j.job.id === selectedJobId, href: jobHref(j.job.id), kept: kept?.get(j.job.id) }, width: NODE_W, height: NODE_H, handles: HANDLES, draggable: false, connectable: false });
    }
    const byId = new Map(run.jobs.map((j) => [j.id, j]));
    const edges: Edge[] = run.edges.filter((e) => byId.has(e.from) && byId.has(e.to)).map((e) => {
      const from = byId.get(e.from)!;
      const to = byId.get(e.to)!;
      return {
        id: `${e.from}->${e.to}`, source: e.from, target: e.to, type: 'smoothstep',
        animated: to.status === 'running' || (from.status === 'running'),
        className: `edge-${tone(from.status)}`,
      };
    });
    return { nodes, edges };
  }, [layout, run, now, selectedJobId, jobHref, kept]);

  const height = Math.min(560, Math.max(220, layout.height + 60));
  return (
    <div className="graph" style={{ height }} data-testid="pipeline-graph">
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView fitViewOptions={{ padding: 0.12, maxZoom: 1 }}
        minZoom={0.3} maxZoom={1.5} nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} nodesFocusable={false}
        panOnScroll zoomOnScroll={false} proOptions={{ hideAttribution: true }}>
        <Background gap={20} size={1} color="#e3e7ee" />
        <Controls showInteractive={false} position="bottom-right" />
      </ReactFlow>
    </div>
  );
}
