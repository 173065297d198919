// A JobExecutor for benchmarks that measure the engine, not Docker: every job is parked until it is
// cancelled (no container, no CPU); the reaper finds nothing and Docker always answers.
export const parkingExecutor = {
  runJob(request) {
    return new Promise((resolve) => {
      const done = () => resolve({ status: 'cancelled', steps: [], logOffset: request.logOffset ?? 0 });
      if (request.signal.aborted) done();
      else request.signal.addEventListener('abort', done, { once: true });
    });
  },
  async reapOrphans() { return { containers: 0, networks: 0, volumes: 0 }; },
  async ping() { return { ok: true }; },
};
