import { describe, expect, it } from 'vitest';
import { topoSort } from './dag.js';

const graph = (g: Record<string, string[]>) => topoSort(Object.keys(g), (n) => g[n]);

describe('topoSort', () => {
  it('orders dependencies first, ties in file order', () => {
    expect(graph({ deploy: ['test', 'build'], test: ['build'], lint: [], build: [] }).order).toEqual(['lint', 'build', 'test', 'deploy']);
  });

  it('names a three-job cycle in needs direction', () => {
    const r = graph({ lint: ['build'], build: ['test'], test: ['lint'], docs: [] });
    expect(r.cycles).toEqual([['lint', 'build', 'test', 'lint']]);
    expect(r.order).toEqual(['docs']);
  });

  it('reports jobs downstream of a cycle as unordered but not as part of the cycle', () => {
    const r = graph({ a: ['b'], b: ['a'], c: ['a'] });
    expect(r.cycles).toEqual([['a', 'b', 'a']]);
    expect(r.order).toEqual([]);
  });

  it('finds every independent cycle', () => {
    const r = graph({ a: ['b'], b: ['a'], c: ['d'], d: ['e'], e: ['c'] });
    expect(r.cycles).toEqual([['a', 'b', 'a'], ['c', 'd', 'e', 'c']]);
  });

  it('picks a shortest cycle inside a tangled component', () => {
    const r = graph({ a: ['b', 'c'], b: ['c'], c: ['a'] });
    expect(r.cycles).toEqual([['a', 'c', 'a']]);
  });

  it('ignores self-edges and unknown names (reported elsewhere)', () => {
    expect(graph({ a: ['a', 'zzz'], b: ['a'] })).toEqual({ order: ['a', 'b'], cycles: [] });
  });

  it('handles a long chain without recursion trouble in Kahn', () => {
    const g: Record<string, string[]> = {};
    for (let i = 0; i < 2000; i++) g[`j${i}`] = i ? [`j${i - 1}`] : [];
    expect(graph(g).order).toHaveLength(2000);
  });
});
