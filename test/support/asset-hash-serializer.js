// Asset hashes change with every byte of bundled code; snapshots should change only with the template.
// A function version's logical id carries a hash of the function's code too (`...CurrentVersion<id><32 hex>`).
const HASH = /[A-Fa-f0-9]{64}|CurrentVersion[0-9A-F]{8}[0-9a-f]{32}/;
const HASHES = new RegExp(HASH.source, 'g');
const mask = (text) => text.replace(HASHES, (m) => (m.startsWith('CurrentVersion') ? `${m.slice(0, 22)}[CODE-HASH]` : '[ASSET-HASH]'));
const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

module.exports = {
  test: (value) => (typeof value === 'string' && HASH.test(value))
    // A list of asset ARNs (e.g. a policy's resources) is ordered by the hashes themselves, so
    // editing a script would reorder it: masked, it is sorted too.
    || (Array.isArray(value) && value.length > 1 && value.every((v) => typeof v === 'string') && value.some((v) => HASH.test(v)))
    // Objects keyed by a version's logical id (Resources): the key is masked like a value.
    || (isPlainObject(value) && Object.keys(value).some((k) => /CurrentVersion[0-9A-F]{8}[0-9a-f]{32}/.test(k))),
  serialize: (value, config, indentation, depth, refs, printer) => {
    if (typeof value === 'string') return JSON.stringify(mask(value));
    if (Array.isArray(value)) return printer(value.map(mask).sort(), config, indentation, depth, refs);
    return printer(Object.fromEntries(Object.entries(value).map(([k, v]) => [mask(k), v])), config, indentation, depth, refs);
  },
};
