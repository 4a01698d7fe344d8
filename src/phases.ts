// The install order, kept as data in the spirit of Helm's InstallOrder. The seed's rule is the
// floor: Services exist before any pod that reads their environment variables, and the one-shot
// db-sync jobs finish before the long-running servers start.

export interface Phase {
  /** The name a template uses to override its objects' phase. */
  name: string;
  /** Two digits that prefix each file name, so `kubectl apply -f out/` keeps this order. */
  rank: string;
  kinds: string[];
  description: string;
}

export const PHASES: readonly Phase[] = [
  { name: "namespaces", rank: "00", kinds: ["Namespace"], description: "namespaces" },
  {
    name: "access",
    rank: "10",
    kinds: [
      "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
      "ResourceQuota", "LimitRange", "PriorityClass", "NetworkPolicy", "PodSecurityPolicy",
      "CustomResourceDefinition",
    ],
    description: "service accounts, RBAC and policies",
  },
  { name: "secrets", rank: "20", kinds: ["Secret"], description: "secrets" },
  { name: "config", rank: "30", kinds: ["ConfigMap"], description: "config maps" },
  {
    name: "storage",
    rank: "40",
    kinds: ["StorageClass", "PersistentVolume", "PersistentVolumeClaim"],
    description: "storage",
  },
  { name: "services", rank: "50", kinds: ["Service", "Endpoints", "EndpointSlice"], description: "services" },
  { name: "databases", rank: "55", kinds: [], description: "databases and their users created (waited for)" },
  { name: "jobs", rank: "60", kinds: ["Job"], description: "one-shot jobs (waited for)" },
  { name: "bootstrap", rank: "65", kinds: [], description: "one-shot jobs after the database migrations: keystone's bootstrap (waited for)" },
  {
    name: "workloads",
    rank: "70",
    kinds: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod", "CronJob"],
    description: "long-running workloads (rollouts waited for at the end)",
  },
  { name: "service-setup", rank: "75", kinds: [], description: "one-shot jobs that need the APIs running: service users, catalog entries, endpoints (waited for)" },
  {
    name: "policies",
    rank: "80",
    kinds: ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "IngressClass"],
    description: "autoscalers, disruption budgets and ingresses",
  },
  { name: "other", rank: "90", kinds: [], description: "kinds this table does not know" },
];

const byKind = new Map<string, Phase>();
for (const phase of PHASES) for (const kind of phase.kinds) byKind.set(kind, phase);

export function phaseOfKind(kind: string): Phase {
  return byKind.get(kind) ?? PHASES[PHASES.length - 1];
}

export function phaseByName(name: string): Phase | undefined {
  return PHASES.find((p) => p.name === name);
}

/** Kinds whose completion apply.sh waits for before the next phase. */
export const ONE_SHOT_KINDS = new Set(["Job"]);
/** Kinds whose rollout apply.sh waits for at the end. */
export const ROLLOUT_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
