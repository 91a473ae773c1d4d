'use strict';
// Test helpers, re-exported in one place.

const path = require('node:path');

const FIXTURES = path.join(__dirname, '..', 'fixtures');

module.exports = {
  ...require('./proc'),
  ...require('./run'),
  ...require('./tmp'),
  ...require('./server'),
  ...require('./users'),
  ...require('./leaks'),
  ...require('./raw'),
  ...require('./linger'),
  ...require('./flood'),
  ...require('./namespace'),
  ...require('./containers'),
  FIXTURES,
  fixture: (name) => path.join(FIXTURES, name),
};
