export * from './status.js';
export * from './trigger-event.js';
export * from './plan.js';
export * from './run.js';
export * from '../diagnostics.js';
export * from './change-set.js';
export * from './job-records.js';
