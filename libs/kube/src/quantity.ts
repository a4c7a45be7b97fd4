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
