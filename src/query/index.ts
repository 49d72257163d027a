/** The query module: parameter specs, executors, CSV. See README.md. */
export * from './params.js';
export * from './queries.js';
export * from './csv.js';
export * from './output.js';
