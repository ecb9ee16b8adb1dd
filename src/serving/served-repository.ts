import type { Clock } from '../common/clock.js';
import type { RepoConfig } from './state.js';
import type { RepositoryView } from './view.js';

/**
 * What the serving path reads of a repository (src/release/repository.ts is one): the view in
 * effect, the tick now and how old the state is. Serving never writes and never reads the database,
 * so it depends on this much and not on the release lifecycle that keeps the view current.
 */
export interface ServedRepository {
  readonly view: RepositoryView;
  readonly config: RepoConfig;
  readonly clock: Clock;
  currentTick(): number;
  /** How long ago the state was last confirmed current against the database, in ms. */
  stateAge(): number;
}
