// PostgreSQL takes at most 65,535 parameters in one statement: a bulk write of tens of thousands
// of rows goes in slices (inside one transaction, so it stays all or nothing).
const SLICE_ROWS = 5000;

/** `items` in slices small enough for one statement each. */
export function statementSlices<T>(items: readonly T[], size = SLICE_ROWS): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}
