import { GdprRule } from '../rule';

export const DATA_SERVICE_RULES: readonly GdprRule[] = [];
