// The signed links being asked for: {asking: {[uploadId]: true} (a request is under way),
// refused: {[uploadId]: true} (the server gave none: not asked again)}.

const INITIAL = Object.freeze({ asking: Object.freeze({}), refused: Object.freeze({}) });

/** Reducer for the linkAsks slice. */
export function linkAsksReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "links/asking": {
      const fresh = action.ids.filter((id) => !slice.asking[id]);
      if (!fresh.length) return slice;
      const asking = { ...slice.asking };
      for (const id of fresh) asking[id] = true;
      return { ...slice, asking };
    }
    case "links/loaded": {
      // `asked`: the ids of the request this answers; those without a link are refused
      const missing = (action.asked || []).filter((id) => !action.links[id] && !slice.refused[id]);
      if (!missing.length) return slice;
      const refused = { ...slice.refused };
      for (const id of missing) refused[id] = true;
      return { ...slice, refused };
    }
    case "links/settled": {
      const done = action.ids.filter((id) => slice.asking[id]);
      if (!done.length) return slice;
      const asking = { ...slice.asking };
      for (const id of done) delete asking[id];
      return { ...slice, asking };
    }
    default:
      return slice;
  }
}
