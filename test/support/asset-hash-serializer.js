// Asset hashes change with every byte of bundled code; snapshots should change only with the template.
const HASH = /[A-Fa-f0-9]{64}/;
const HASHES = new RegExp(HASH.source, 'g');
const mask = (text) => text.replace(HASHES, '[ASSET-HASH]');

module.exports = {
  test: (value) => (typeof value === 'string' && HASH.test(value))
    // A list of asset ARNs (e.g. a policy's resources) is ordered by the hashes themselves, so
    // editing a script would reorder it: masked, it is sorted too.
    || (Array.isArray(value) && value.length > 1 && value.every((v) => typeof v === 'string') && value.some((v) => HASH.test(v))),
  serialize: (value, config, indentation, depth, refs, printer) => (typeof value === 'string'
    ? JSON.stringify(mask(value))
    : printer(value.map(mask).sort(), config, indentation, depth, refs)),
};
