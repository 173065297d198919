/**
 * The job graph: Kahn's algorithm gives a topological order (ties broken by file order, so plans
 * are stable) and, when nodes are left over, the cycles among them are named explicitly.
 */

export interface TopoResult {
  /** Every node not on or behind a cycle, dependencies first. */
  order: string[];
  /** Each cycle as a closed walk in "needs" direction: [a, b, c, a] means a needs b needs c needs a. */
  cycles: string[][];
}

/**
 * `nodes` in file order; `deps(n)` are the nodes n waits for (unknown names and self-edges are
 * ignored here: they are reported separately).
 */
export function topoSort(nodes: readonly string[], deps: (node: string) => readonly string[]): TopoResult {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const edges = new Map<string, string[]>();
  const inDegree = new Map<string, number>();
  const dependants = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const n of nodes) {
    const ds = [...new Set(deps(n))].filter((d) => d !== n && index.has(d));
    edges.set(n, ds);
    inDegree.set(n, ds.length);
    for (const d of ds) dependants.get(d)?.push(n);
  }
  // Ready nodes kept sorted by file position: a tiny priority queue is plenty for pipeline sizes.
  const ready = nodes.filter((n) => inDegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const n = ready.shift() as string;
    order.push(n);
    for (const m of dependants.get(n) ?? []) {
      const left = (inDegree.get(m) ?? 0) - 1;
      inDegree.set(m, left);
      if (left === 0) insertSorted(ready, m, index);
    }
  }
  if (order.length === nodes.length) return { order, cycles: [] };
  const remaining = new Set(nodes.filter((n) => (inDegree.get(n) ?? 0) > 0));
  return { order, cycles: findCycles(nodes.filter((n) => remaining.has(n)), (n) => (edges.get(n) ?? []).filter((d) => remaining.has(d))) };
}

function insertSorted(list: string[], item: string, index: Map<string, number>): void {
  const i = index.get(item) ?? 0;
  let at = list.length;
  while (at > 0 && (index.get(list[at - 1]) ?? 0) > i) at--;
  list.splice(at, 0, item);
}

/** One shortest cycle per strongly connected component (Tarjan), starting at its first node in file order. */
function findCycles(nodes: string[], next: (n: string) => string[]): string[][] {
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  const strongConnect = (v: string) => {
    indexOf.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!indexOf.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, indexOf.get(w) ?? 0));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component);
    }
  };
  for (const n of nodes) if (!indexOf.has(n)) strongConnect(n);

  const position = new Map(nodes.map((n, i) => [n, i]));
  return components
    .map((component) => {
      const members = new Set(component);
      const start = component.reduce((a, b) => ((position.get(a) ?? 0) <= (position.get(b) ?? 0) ? a : b));
      return shortestCycle(start, (n) => next(n).filter((d) => members.has(d)));
    })
    .sort((a, b) => (position.get(a[0]) ?? 0) - (position.get(b[0]) ?? 0));
}

function shortestCycle(start: string, next: (n: string) => string[]): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length > 0) {
    const n = queue.shift() as string;
    for (const m of next(n)) {
      if (m === start) {
        const path = [n];
        while (path[0] !== start) path.unshift(parent.get(path[0]) as string);
        return [...path, start];
      }
      if (!seen.has(m)) {
        seen.add(m);
        parent.set(m, n);
        queue.push(m);
      }
    }
  }
  return [start, start];
}
