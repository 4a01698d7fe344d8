// The validators of the kinds most manifests use, bundled into the CLI so that they load from one
// file. Each loads only when an object of its kind is checked; any other kind is read from
// kubernetes-models at run time.
type ModelClass = new (data: unknown) => { validate(): void };
type Loader = () => ModelClass;

export const BUNDLED_KINDS: Record<string, Loader> = {
  "v1/Namespace": () => require("kubernetes-models/v1/Namespace").Namespace,
  "v1/Service": () => require("kubernetes-models/v1/Service").Service,
  "v1/Secret": () => require("kubernetes-models/v1/Secret").Secret,
  "v1/ConfigMap": () => require("kubernetes-models/v1/ConfigMap").ConfigMap,
  "v1/ServiceAccount": () => require("kubernetes-models/v1/ServiceAccount").ServiceAccount,
  "v1/PersistentVolumeClaim": () => require("kubernetes-models/v1/PersistentVolumeClaim").PersistentVolumeClaim,
  "v1/Pod": () => require("kubernetes-models/v1/Pod").Pod,
  "apps/v1/Deployment": () => require("kubernetes-models/apps/v1/Deployment").Deployment,
  "apps/v1/StatefulSet": () => require("kubernetes-models/apps/v1/StatefulSet").StatefulSet,
  "apps/v1/DaemonSet": () => require("kubernetes-models/apps/v1/DaemonSet").DaemonSet,
  "batch/v1/Job": () => require("kubernetes-models/batch/v1/Job").Job,
  "batch/v1/CronJob": () => require("kubernetes-models/batch/v1/CronJob").CronJob,
  "policy/v1/PodDisruptionBudget": () => require("kubernetes-models/policy/v1/PodDisruptionBudget").PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/Role": () => require("kubernetes-models/rbac.authorization.k8s.io/v1/Role").Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": () => require("kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding").RoleBinding,
  "networking.k8s.io/v1/Ingress": () => require("kubernetes-models/networking.k8s.io/v1/Ingress").Ingress,
  "networking.k8s.io/v1/NetworkPolicy": () => require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy").NetworkPolicy,
  "autoscaling/v2/HorizontalPodAutoscaler": () => require("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler").HorizontalPodAutoscaler,
  "rbac.authorization.k8s.io/v1/ClusterRole": () => require("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole").ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": () => require("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding").ClusterRoleBinding,
  "v1/PersistentVolume": () => require("kubernetes-models/v1/PersistentVolume").PersistentVolume,
  "v1/ResourceQuota": () => require("kubernetes-models/v1/ResourceQuota").ResourceQuota,
  "v1/LimitRange": () => require("kubernetes-models/v1/LimitRange").LimitRange,
  "storage.k8s.io/v1/StorageClass": () => require("kubernetes-models/storage.k8s.io/v1/StorageClass").StorageClass,
};

/** apiVersion/kind of each bundled kind, which is also its path in kubernetes-models. */
export const BUNDLED_KIND_NAMES = Object.keys(BUNDLED_KINDS);
