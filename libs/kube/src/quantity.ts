/** Kubernetes resource quantities ("100m", "2", "128Mi", "1G", "1e3") as plain numbers. */
const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

export function parseQuantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const match = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(value.trim());
  if (!match) throw new Error(`invalid quantity "${value}"`);
  const multiplier = SUFFIXES[match[2]!];
  if (multiplier === undefined) throw new Error(`invalid quantity suffix in "${value}"`);
  return Number(match[1]) * multiplier;
}

/** CPU in millicores, rounded up as the scheduler does. */
export function cpuMillis(value: string | number | undefined): number {
  return Math.ceil(parseQuantity(value) * 1000);
}
