// "My classes" from the roster (GET /api/classes/mine): {loaded: bool, list: [{id, name, role,
// teacherIds, studentCount, mayOpen, conversations: [{id, type, title}]}], opening: classId | null}.

/** Reducer for the classes slice. */
export function classesReducer(slice = { loaded: false, list: [], opening: null }, action) {
  switch (action.type) {
    case "classes/loaded":
      return { ...slice, loaded: true, list: action.classes };
    case "classes/opening":
      return slice.opening === action.classId ? slice : { ...slice, opening: action.classId };
    default:
      return slice;
  }
}

/** The conversation of `type` ("class" or "announcement") of a class I am in, as the list knows it, or null. */
export function classConversation(klass, type, byId) {
  const c = (klass.conversations || []).find((x) => x.type === type && byId[x.id]);
  return c ? c.id : null;
}
