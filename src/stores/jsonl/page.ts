/**
 * One page of a newest-first list: the items after the cursor (the id of the previous page's last
 * item; an id not in the list gives an empty page) that match, and whether more matching ones follow.
 */
export function pageAfter<T>(
  newestFirst: readonly T[],
  idOf: (item: T) => string,
  q: { limit: number; after?: string },
  matches: (item: T) => boolean = () => true,
): { data: T[]; has_more: boolean } {
  let start = 0;
  if (q.after) {
    const at = newestFirst.findIndex((item) => idOf(item) === q.after);
    start = at < 0 ? newestFirst.length : at + 1;
  }
  const data: T[] = [];
  for (let i = start; i < newestFirst.length; i++) {
    const item = newestFirst[i]!;
    if (!matches(item)) continue;
    if (data.length === q.limit) return { data, has_more: true };
    data.push(item);
  }
  return { data, has_more: false };
}
