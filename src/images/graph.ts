/** The dependency graph of the images of one step: layers (build order) and cycles. Pure. */

export interface GraphNode {
  name: string;
  deps: string[];
}

/**
 * Layer of each node: 0 without dependencies, else 1 + the deepest dependency's layer. A cycle is
 * returned as the list of names along it, first name repeated at the end (`a → b → a`).
 */
export function dependencyLayers(nodes: GraphNode[]): { layer: Map<string, number> } | { cycle: string[] } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const layer = new Map<string, number>();
  const onPath: string[] = [];
  const visit = (name: string): number | string[] => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    const at = onPath.indexOf(name);
    if (at >= 0) return [...onPath.slice(at), name];
    onPath.push(name);
    let deepest = -1;
    for (const d of byName.get(name)?.deps ?? []) {
      if (!byName.has(d)) continue;
      const r = visit(d);
      if (Array.isArray(r)) return r;
      deepest = Math.max(deepest, r);
    }
    onPath.pop();
    layer.set(name, deepest + 1);
    return deepest + 1;
  };
  for (const n of nodes) {
    const r = visit(n.name);
    if (Array.isArray(r)) return { cycle: r };
  }
  return { layer };
}
