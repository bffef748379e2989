/** Names the documents' schemas and their light modules share (no zod here: see ./schemas.ts). */
export const MANIFEST_SCHEMA = 'modelfleet/manifest@1';
export const DEPLOYMENT_SCHEMA = 'modelfleet/deployment@1';
export const ROLLOUT_STATES = ['progressing', 'paused', 'succeeded', 'rolled-back', 'aborted'] as const;
