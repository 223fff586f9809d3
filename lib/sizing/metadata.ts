/** Template metadata key of a resource whose numbers lib/sizing computed: the explanation of each step, as text. */
export const SIZING_METADATA = 'mlsd:sizing';
