/**
 * Workgroup grids for kernels that index a flat range. One dimension holds at most
 * maxComputeWorkgroupsPerDimension (65535 by default) groups, so larger ranges fold into a
 * second dimension; shaders rebuild the flat group index as `wid.y * nwg.x + wid.x` and skip
 * the few groups past the end.
 */
export function flatGrid(groups: number, maxPerDimension: number): [number, number] {
  if (!Number.isSafeInteger(groups) || groups < 0) throw new RangeError(`flatGrid: invalid workgroup count ${groups}`);
  if (groups <= maxPerDimension) return [groups, 1];
  const rows = Math.ceil(groups / maxPerDimension);
  if (rows > maxPerDimension) throw new RangeError(`flatGrid: ${groups} workgroups exceed ${maxPerDimension}² (maxComputeWorkgroupsPerDimension squared)`);
  return [Math.ceil(groups / rows), rows];
}
