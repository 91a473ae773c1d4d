'use strict';
// Loaded by mocha before any spec (.mocharc.json "require").
//
// A process warning (MaxListenersExceededWarning, a deprecation, an
// unhandled-rejection warning, ...) is a defect: rethrow it so that it becomes
// an uncaught exception, which mocha attributes to the test that is running
// (or reports as a failure outside any test).

process.on('warning', (warning) => {
  const error = new Error(`process warning: ${warning.name}: ${warning.message}`);
  error.stack = `${error.message}\n${warning.stack || ''}`;
  throw error;
});
