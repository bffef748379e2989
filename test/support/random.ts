// The tests' seeded source is the one the rollout simulation uses.
export { seededRandom } from '../../scripts/lib/random';
