// Asset hashes change with every byte of bundled code; snapshots should change only with the template.
const HASH = /[A-Fa-f0-9]{64}/;
module.exports = {
  test: (value) => typeof value === 'string' && HASH.test(value),
  serialize: (value) => JSON.stringify(value.replace(new RegExp(HASH.source, 'g'), '[ASSET-HASH]')),
};
