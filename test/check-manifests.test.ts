import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fs from "node:fs";
import path from "node:path";
import { generateKubeFields, tableText } from "../src/tools/generate-kube-fields";
import { gatesNamed } from "../src/tools/generate-feature-gates";
import { problemsOf, renderInMemory, REPO, SECRET_TEMPLATE, WEB_TEMPLATE } from "./helpers";

const run = (templates: Record<string, string>) => renderInMemory({ templates, params: { name: "web", password: "p" } });

/** The web template with one edit: each case breaks exactly one thing. */
const web = (from: string, to: string): string => {
  assert.ok(WEB_TEMPLATE.includes(from), `the template contains ${from}`);
  return WEB_TEMPLATE.replace(from, to);
};

describe("check-manifests: each check fails on a broken template", () => {
  const cases: { name: string; templates: Record<string, string>; error: string | RegExp; at: string }[] = [
    {
      name: "Kubernetes schema: a wrong type, with the field path",
      templates: { "web.yaml.hbs": web("containerPort: 80", 'containerPort: "80"') },
      error: "Deployment web: spec.template.spec.containers[0].ports[0].containerPort: must be integer",
      at: "\"80\"",
    },
    {
      name: "Kubernetes schema: a missing required field",
      templates: { "web.yaml.hbs": web("        - name: web\n          image: nginx:1.27\n", "        - image: nginx:1.27\n") },
      error: "Deployment web: spec.template.spec.containers[0].name: is required",
      at: "image: nginx:1.27",
    },
    {
      name: "Kubernetes schema: an unknown kind in a known API group",
      templates: { "web.yaml.hbs": web("kind: Deployment", "kind: Deploymnet") },
      error: "Deploymnet web: apps/v1 has no kind Deploymnet",
      at: "Deploymnet",
    },
    {
      name: "an unknown field in a container (a typo), with the field it was meant to be",
      templates: { "web.yaml.hbs": web("          image: nginx:1.27\n", "          image: nginx:1.27\n          imagePullPolicyy: Always\n") },
      error: "Deployment web: spec.template.spec.containers[0].imagePullPolicyy: unknown field; did you mean imagePullPolicy?",
      at: "imagePullPolicyy: Always",
    },
    {
      name: "an unknown field in a list of objects, deep in the pod spec",
      templates: { "web.yaml.hbs": web("              containerPort: 80\n", "              containerport: 80\n") },
      error: "Deployment web: spec.template.spec.containers[0].ports[0].containerport: unknown field; did you mean containerPort?",
      at: "containerport: 80",
    },
    {
      name: "an unknown field at the top of an object, with nothing close to suggest",
      templates: { "web.yaml.hbs": web("kind: Service\n", "kind: Service\nextras:\n  a: 1\n") },
      error: "Service web: extras: unknown field",
      at: "extras:",
    },
    {
      name: "an unknown field in a cluster-wide kind (ClusterRole)",
      templates: { "role.yaml.hbs": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrule:\n  - apiGroups: [\"\"]\n    resources: [pods]\n    verbs: [get]\n" },
      error: "ClusterRole reader: rule: unknown field; did you mean rules?",
      at: "rule:",
    },
    {
      name: "an unknown field in metadata",
      templates: { "web.yaml.hbs": web("kind: Service\nmetadata:\n  name: {{name}}\n", "kind: Service\nmetadata:\n  name: {{name}}\n  label:\n    a: b\n") },
      error: "Service web: metadata.label: unknown field; did you mean labels?",
      at: "label:",
    },
    {
      name: "a Service whose selector matches no pod template",
      templates: { "web.yaml.hbs": web("  selector:\n    app: {{name}}\n  ports:", "  selector:\n    app: other\n  ports:") },
      error: 'Service web: spec.selector: {"app":"other"} matches no pod template of any rendered workload',
      at: "selector:",
    },
    {
      name: "a Service targetPort the container does not declare",
      templates: { "web.yaml.hbs": web("targetPort: http", "targetPort: https") },
      error: 'Service web: spec.ports[0].targetPort: names port "https", which no container of Deployment web declares',
      at: "https",
    },
    {
      name: "a probe naming a port the container lacks (the seed's swift bug)",
      templates: { "web.yaml.hbs": web("              containerPort: 80\n", "              containerPort: 80\n          livenessProbe:\n            httpGet:\n              path: /healthcheck\n              port: account\n") },
      error: 'Deployment web: spec.template.spec.containers[0].livenessProbe.httpGet.port: names port "account", which container "web" does not declare (it has http)',
      at: "account",
    },
    {
      name: "a secretKeyRef to a Secret no template renders",
      templates: { "web.yaml.hbs": web("              containerPort: 80\n", "              containerPort: 80\n          env:\n            - name: P\n              valueFrom:\n                secretKeyRef:\n                  name: nothere\n                  key: password\n") },
      error: 'Deployment web: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: Secret "nothere" is not rendered by any template',
      at: "secretKeyRef:",
    },
    {
      name: "a secretKeyRef to a key the Secret lacks",
      templates: {
        "s.yaml.hbs": SECRET_TEMPLATE,
        "web.yaml.hbs": web("              containerPort: 80\n", "              containerPort: 80\n          env:\n            - name: P\n              valueFrom:\n                secretKeyRef:\n                  name: web-secret\n                  key: passwd\n"),
      },
      error: 'Deployment web: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: Secret "web-secret" has no key "passwd"',
      at: "secretKeyRef:",
    },
    {
      name: "two containers with the same name",
      templates: { "web.yaml.hbs": web("              containerPort: 80\n", "              containerPort: 80\n        - name: web\n          image: busybox:1.36\n") },
      error: 'Deployment web: spec.template.spec.containers[1].name: two containers are named "web"',
      at: "web\n",
    },
    {
      name: "a selector that does not match the pod template's labels",
      templates: { "web.yaml.hbs": web("    matchLabels:\n      app: {{name}}", "    matchLabels:\n      app: x") },
      error: /Deployment web: spec\.selector\.matchLabels: \{"app":"x"\} does not match the labels of spec\.template/,
      at: "matchLabels:",
    },
    {
      name: "the same object from two templates, naming both",
      templates: { "a.yaml.hbs": WEB_TEMPLATE, "b.yaml.hbs": WEB_TEMPLATE },
      error: "Service web: metadata.name: defined twice: in tpl/a.yaml.hbs (document 1) and in tpl/b.yaml.hbs (document 1)",
      at: "{{name}}",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(() => run(c.templates));
      // file:line:col, then the message; the place must be where the template wrote the fault.
      const found = problems.find((p) => {
        const message = p.replace(/^[^:]*:\d+:\d+: /, "");
        return typeof c.error === "string" ? message === c.error : c.error.test(message);
      });
      assert.ok(found, `expected ${c.error} among:\n${problems.join("\n")}`);
      const [, file, line, column] = /^tpl\/([^:]+):(\d+):(\d+): /.exec(found) ?? [];
      assert.ok(file, `${found} names a template line and column`);
      const text = c.templates[file].split("\n").slice(Number(line) - 1).join("\n").slice(Number(column) - 1);
      assert.ok(text.startsWith(c.at), `${file}:${line}:${column} points at ${JSON.stringify(text.slice(0, 30))}, not ${JSON.stringify(c.at)}`);
    });
  }

  it("the unbroken template passes every check", () => {
    assert.equal(run({ "web.yaml.hbs": WEB_TEMPLATE, "s.yaml.hbs": SECRET_TEMPLATE }).manifests.length, 3);
  });

  it("maps take any key: labels, annotations, a Secret's data, a selector", () => {
    const labels = "app: {{name}}\n        any.example.com/key_1: v\n";
    const t = web("      labels:\n        app: {{name}}\n", `      labels:\n        ${labels}      annotations:\n        "odd key with spaces": x\n`);
    const secret = SECRET_TEMPLATE.replace("  password: {{password}}\n", "  password: {{password}}\n  ANY_KEY.conf: x\n");
    assert.equal(run({ "web.yaml.hbs": t, "s.yaml.hbs": secret }).manifests.length, 3);
  });

  it("a custom resource (unknown group) is not schema-checked", () => {
    assert.equal(run({ "cr.yaml.hbs": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  anything: [1]\n" }).manifests.length, 1);
  });
});

describe("check-manifests: a field behind a feature gate that is off by default in the target Kubernetes version", () => {
  const pod = (spec: string, kind = "Pod"): string => `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: p\nspec:\n${spec}`;
  const container = "  containers:\n    - name: c\n      image: nginx:1.27\n";
  const cases: { name: string; template: string; kubeVersion?: string; error?: string }[] = [
    {
      name: "resources: indented under the pod instead of the container (PodLevelResources, alpha in 1.32)",
      template: web("              containerPort: 80\n", "              containerPort: 80\n      resources:\n        limits:\n          memory: 1Gi\n"),
      error: "tpl/web.yaml.hbs:32:7: Deployment web: spec.template.spec.resources: needs the PodLevelResources feature gate, off by default (alpha) in Kubernetes 1.32",
    },
    {
      name: "resources: under the container, where it belongs",
      template: web("              containerPort: 80\n", "              containerPort: 80\n          resources:\n            limits:\n              memory: 1Gi\n"),
    },
    {
      name: "securityContext.supplementalGroupsPolicy (SupplementalGroupsPolicy, alpha in 1.32)",
      template: pod(`${container}  securityContext:\n    supplementalGroupsPolicy: Strict\n`),
      error: "tpl/a.yaml.hbs:10:5: Pod p: spec.securityContext.supplementalGroupsPolicy: needs the SupplementalGroupsPolicy feature gate, off by default (alpha) in Kubernetes 1.32",
    },
    { name: "the same in Kubernetes 1.33, where the gate is beta and on", template: pod(`${container}  securityContext:\n    supplementalGroupsPolicy: Strict\n`), kubeVersion: "1.33" },
    {
      name: "a claim's volumeAttributesClassName (VolumeAttributesClass, beta but off in 1.32)",
      template: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  volumeAttributesClassName: fast\n  resources:\n    requests:\n      storage: 1Gi\n",
      error: "tpl/a.yaml.hbs:7:3: PersistentVolumeClaim data: spec.volumeAttributesClassName: needs the VolumeAttributesClass feature gate, off by default (beta) in Kubernetes 1.32",
    },
    {
      name: "a Job's managedBy in Kubernetes 1.31 (JobManagedBy, alpha)",
      template: `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  managedBy: example.com/queue\n  template:\n    spec:\n      restartPolicy: Never\n${container.replace(/^/gm, "    ").trimEnd()}\n`,
      kubeVersion: "1.31",
      error: "tpl/a.yaml.hbs:6:3: Job j: spec.managedBy: needs the JobManagedBy feature gate, off by default (alpha) in Kubernetes 1.31",
    },
    {
      name: "the same in Kubernetes 1.32, where the gate is beta and on",
      template: `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  managedBy: example.com/queue\n  template:\n    spec:\n      restartPolicy: Never\n${container.replace(/^/gm, "    ").trimEnd()}\n`,
    },
    {
      name: "a field that came after the target version (HPAConfigurableTolerance, 1.33)",
      template: "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 3\n  behavior:\n    scaleUp:\n      tolerance: \"0.05\"\n",
      error: "tpl/a.yaml.hbs:10:7: HorizontalPodAutoscaler h: spec.behavior.scaleUp.tolerance: needs the HPAConfigurableTolerance feature gate, which Kubernetes 1.32 does not have (it came in 1.33, alpha)",
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.error ? "an error at its place, naming the field and the gate" : "allowed"}`, () => {
      const templates: Record<string, string> = { [c.template.startsWith("apiVersion: v1\nkind: Service") ? "web.yaml.hbs" : "a.yaml.hbs"]: c.template };
      const render = () => renderInMemory({ templates, params: { name: "web", password: "p" }, kubeVersion: c.kubeVersion });
      if (!c.error) {
        assert.ok(render().manifests.length > 0);
        return;
      }
      const problems = problemsOf(render);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.ok(problems[0].startsWith(c.error), `${problems[0]}\ndoes not start with\n${c.error}`);
    });
  }

  it("every gate a field names has its stages by version in src/feature-gates.json", () => {
    const table = JSON.parse(fs.readFileSync(path.join(REPO, "src", "feature-gates.json"), "utf8")) as { gates: Record<string, unknown> };
    assert.deepEqual(Object.keys(table.gates).sort(), gatesNamed());
  });
});

describe("check-manifests: the table of Kubernetes field names", () => {
  it("is what kubernetes-models, as installed, declares (regenerate with npm run generate)", () => {
    const committed = fs.readFileSync(path.join(REPO, "src", "kube-fields.json"), "utf8");
    assert.equal(committed, tableText(generateKubeFields()));
  });
});
