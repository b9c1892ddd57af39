// Moved to src/actions/action-tokens.ts (the token codec owns its markers and id↔text mapping); this
// re-export keeps imports of the old path working until their files migrate.
export * from '../actions/action-tokens.ts';
