// The one place the client's state lives: the reducers of state/ applied to it, one action at a
// time. Controllers read `store.state` and dispatch; the renderer subscribes to every change.
import { reduce } from "./state/index.js";

/** A store with no state until `start(initial)` (the sign-in). */
export function createStore() {
  let state = null;
  const listeners = [];
  const changed = (prev) => { for (const fn of listeners) fn(prev); };
  return {
    get state() { return state; },
    /** Begin a signed-in session's state; listeners render it from nothing. */
    start(initial) { state = initial; changed(null); },
    /** Apply an action; listeners get the previous state when anything changed. */
    dispatch(action) {
      const prev = state;
      state = reduce(state, action);
      if (state !== prev) changed(prev);
    },
    /** Apply an action without rendering (what it changes is already on screen, or is not shown). */
    update(action) { state = reduce(state, action); },
    /** `fn(prev)` after every change (prev is null for the first render). */
    subscribe(fn) { listeners.push(fn); },
  };
}
