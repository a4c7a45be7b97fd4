/** Kubernetes resource quantities ("100m", "2", "128Mi", "1G", "1e3") as plain numbers. */
const DECIMAL_EXPONENTS: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_MULTIPLIERS: Record<string, number> = {
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** A quantity's parts: its decimal digits, its own exponent and its suffix. */
function quantityParts(value: string | number): { digits: string; exponent: number; suffix: string } {
  const match = /^([+-]?\d+(?:\.\d+)?)(?:[eE]([+-]?\d+))?([a-zA-Z]*)$/.exec(String(value).trim());
  if (!match) throw new Error(`invalid quantity "${value}"`);
  const suffix = match[3]!;
  if (DECIMAL_EXPONENTS[suffix] === undefined && BINARY_MULTIPLIERS[suffix] === undefined)
    throw new Error(`invalid quantity suffix in "${value}"`);
  return { digits: match[1]!, exponent: Number(match[2] ?? 0), suffix };
}

/**
 * A quantity times 10^scale. A decimal suffix moves the decimal point in the text itself, so
 * "9m" in millis is exactly 9: multiplying 0.009 by 1000 in floating point gives 9.000000000000002.
 */
function scaled(value: string | number, scale: number): number {
  const { digits, exponent, suffix } = quantityParts(value);
  const decimal = DECIMAL_EXPONENTS[suffix];
  if (decimal !== undefined) return Number(`${digits}e${exponent + decimal + scale}`);
  return Number(`${digits}e${exponent + scale}`) * BINARY_MULTIPLIERS[suffix]!;
}

export function parseQuantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  return scaled(value, 0);
}

/** CPU in millicores, rounded up as the scheduler does. */
export function cpuMillis(value: string | number | undefined): number {
  return value === undefined ? 0 : Math.ceil(scaled(value, 3));
}

/** What one pod asks of a node: CPU in millicores, memory in bytes, and the pod itself. */
export interface PodRequests {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}

interface ContainerSpec {
  resources?: { requests?: Record<string, string | number> };
}

/**
 * A pod's effective requests as the scheduler counts them: the larger of its containers' sum and
 * each init container (which run one at a time, before the others), plus the pod's overhead.
 */
export function podRequests(spec: {
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  overhead?: Record<string, string | number>;
}): PodRequests {
  const of = (containers: ContainerSpec[] | undefined) =>
    (containers ?? []).map((c) => ({
      cpuMillis: cpuMillis(c.resources?.requests?.cpu),
      memoryBytes: parseQuantity(c.resources?.requests?.memory),
    }));
  const running = of(spec.containers);
  const sum = (key: "cpuMillis" | "memoryBytes") => running.reduce((total, c) => total + c[key], 0);
  const init = of(spec.initContainers);
  const effective = (key: "cpuMillis" | "memoryBytes") => Math.max(sum(key), ...init.map((c) => c[key]));
  return {
    cpuMillis: effective("cpuMillis") + cpuMillis(spec.overhead?.cpu),
    memoryBytes: effective("memoryBytes") + parseQuantity(spec.overhead?.memory),
    pods: 1,
  };
}
