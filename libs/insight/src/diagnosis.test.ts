import { describe, expect, it } from "vitest";
import { diagnose, EventIndex, validCron } from "./diagnosis.js";
import type { Obj } from "./objects.js";

const pod = (
  name: string,
  status: Obj,
  spec: Obj = { containers: [{ name: "main", image: "x:1" }] },
  labels: Obj = {},
): Obj => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "shop", labels },
  spec,
  status,
});
const event = (kind: string, name: string, reason: string, message: string, at: Obj): Obj => ({
  kind: "Event",
  involvedObject: { kind, namespace: "shop", name },
  reason,
  message,
  type: "Warning",
  ...at,
});

const rulesOf = (objects: Obj[], events: Obj[] = []) =>
  diagnose(objects, events).map((d) => `${d.kind}/${d.name}: ${d.rule}: ${d.message}`);

describe("runtime diagnosis", () => {
  it.each([
    [
      "an unschedulable pod, with the scheduler's reason",
      [
        pod("a", {
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message: "0/3 nodes are available: 3 Insufficient cpu.",
            },
          ],
        }),
      ],
      ["Pod/a: PodUnschedulable: 0/3 nodes are available: 3 Insufficient cpu."],
    ],
    [
      "a crash loop, with the last termination reason",
      [
        pod("b", {
          phase: "Running",
          containerStatuses: [
            {
              name: "main",
              state: { waiting: { reason: "CrashLoopBackOff" } },
              lastState: { terminated: { reason: "Error", exitCode: 1 } },
            },
          ],
        }),
      ],
      [
        "Pod/b: ContainerCrashLooping: the last termination reason is Error (exit code 1) container=main pod=b",
      ],
    ],
    [
      "an OOM kill",
      [
        pod("c", {
          phase: "Running",
          containerStatuses: [
            {
              name: "main",
              state: { waiting: { reason: "CrashLoopBackOff" } },
              lastState: { terminated: { reason: "OOMKilled", exitCode: 137 } },
            },
          ],
        }),
      ],
      [
        "Pod/c: ContainerOOMKilled: the last termination reason is OOMKilled (exit code 137) container=main pod=c",
      ],
    ],
    [
      "an image pull error",
      [
        pod("d", {
          phase: "Pending",
          containerStatuses: [
            {
              name: "main",
              state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "x:9"' } },
            },
          ],
        }),
      ],
      ['Pod/d: ContainerImagePullFailed: Back-off pulling image "x:9"'],
    ],
    [
      "an evicted pod",
      [pod("e", { phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." })],
      ["Pod/e: PodEvicted: The node was low on resource: memory."],
    ],
    [
      "a job that failed",
      [
        {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "j", namespace: "shop" },
          spec: { template: { spec: { containers: [] } } },
          status: { failed: 3 },
        },
      ],
      ["Job/j: JobFailed: Job j has failed"],
    ],
    [
      "a suspended cron job and one with a bad schedule",
      [
        {
          kind: "CronJob",
          metadata: { name: "s", namespace: "shop" },
          spec: { suspend: true, schedule: "* * * * *" },
        },
        { kind: "CronJob", metadata: { name: "t", namespace: "shop" }, spec: { schedule: "61 * * * *" } },
      ],
      [
        "CronJob/s: CronJobSuspended: CronJob s is suspended",
        "CronJob/t: CronJobInvalidSchedule: CronJob t has an invalid schedule: 61 * * * *",
      ],
    ],
    [
      "a node under disk pressure",
      [
        {
          kind: "Node",
          metadata: { name: "n1" },
          status: {
            conditions: [
              { type: "Ready", status: "True" },
              { type: "DiskPressure", status: "True", reason: "KubeletHasDiskPressure", message: "low disk" },
            ],
          },
        },
      ],
      [
        "Node/n1: NodePressure: n1 has condition of type DiskPressure, reason KubeletHasDiskPressure: low disk",
      ],
    ],
    [
      "a service selecting no pods, and one selecting only unready pods",
      [
        {
          kind: "Service",
          metadata: { name: "none", namespace: "shop" },
          spec: { selector: { app: "ghost" } },
        },
        { kind: "Service", metadata: { name: "web", namespace: "shop" }, spec: { selector: { app: "web" } } },
        pod("w1", { phase: "Running", conditions: [{ type: "Ready", status: "False" }] }, undefined, {
          app: "web",
        }),
      ],
      [
        "Service/none: ServiceSelectsNoPods: Service selects no pods; expected labels app=ghost",
        "Service/web: ServiceOnlyUnreadyPods: Service has only unready pods: w1",
      ],
    ],
    [
      "an ingress pointing at a missing service, secret and class",
      [
        {
          kind: "Ingress",
          metadata: { name: "i", namespace: "shop" },
          spec: {
            ingressClassName: "nginx",
            rules: [{ http: { paths: [{ backend: { service: { name: "gone" } } }] } }],
            tls: [{ secretName: "cert" }],
          },
        },
      ],
      [
        "Ingress/i: IngressClassMissing: Ingress uses the ingress class nginx which does not exist.",
        "Ingress/i: IngressServiceMissing: Ingress uses the service shop/gone which does not exist.",
        "Ingress/i: IngressSecretMissing: Ingress uses the secret shop/cert as a TLS certificate which does not exist.",
      ],
    ],
    [
      "a webhook whose service is gone",
      [
        {
          kind: "ValidatingWebhookConfiguration",
          metadata: { name: "v" },
          webhooks: [
            { name: "check.example.com", clientConfig: { service: { namespace: "sys", name: "hook" } } },
          ],
        },
      ],
      [
        "ValidatingWebhookConfiguration/v: WebhookServiceMissing: Service sys/hook not found as mapped to by Validating Webhook check.example.com",
      ],
    ],
    [
      "a deployment referring to a missing config map and secret",
      [
        {
          kind: "Deployment",
          metadata: { name: "api", namespace: "shop" },
          spec: {
            replicas: 1,
            template: {
              spec: {
                containers: [
                  {
                    name: "m",
                    envFrom: [
                      { configMapRef: { name: "cfg" } },
                      { secretRef: { name: "opt", optional: true } },
                    ],
                    env: [{ name: "K", valueFrom: { secretKeyRef: { name: "key" } } }],
                  },
                ],
              },
            },
          },
          status: { readyReplicas: 1 },
        },
      ],
      [
        "Deployment/api: ConfigMapMissing: Deployment shop/api refers to ConfigMap cfg, which does not exist",
        "Deployment/api: SecretMissing: Deployment shop/api refers to Secret key, which does not exist",
      ],
    ],
  ])("finds %s", (_, objects, expected) => {
    expect(rulesOf(objects)).toEqual(expected);
  });

  it("reads events matched by kind as well as name, and counts eventTime and series", () => {
    const stuck = pod("db", {
      phase: "Pending",
      containerStatuses: [{ name: "main", state: { waiting: { reason: "ContainerCreating" } } }],
    });
    const events = [
      // Same name, another kind: must not be attributed to the pod.
      {
        ...event("PersistentVolumeClaim", "db", "ProvisioningFailed", "wrong object", {
          lastTimestamp: "2026-01-01T10:00:00Z",
        }),
      },
      event("Pod", "db", "FailedMount", "older mount failure", { lastTimestamp: "2026-01-01T09:00:00Z" }),
      event(
        "Pod",
        "db",
        "FailedMount",
        'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found',
        {
          eventTime: "2026-01-01T09:30:00Z",
          series: { lastObservedTime: "2026-01-01T09:59:00Z" },
        },
      ),
    ];
    expect(rulesOf([stuck], events)).toEqual([
      'Pod/db: PodFailedMount: MountVolume.SetUp failed for volume "cfg" : configmap "app" not found',
    ]);
    expect(
      new EventIndex(events).of({ kind: "Pod", metadata: { name: "db", namespace: "shop" } }),
    ).toHaveLength(2);
  });

  it("does not blame a recreated pod for events about its predecessor of the same name", () => {
    const current = {
      ...pod("web-0", { phase: "Running" }),
      metadata: { name: "web-0", namespace: "shop", uid: "new" },
    };
    const oom = (uid: string | undefined, message: string) => ({
      ...event("Pod", "web-0", "OOMKilling", message, { lastTimestamp: "2026-01-01T09:00:00Z" }),
      involvedObject: { kind: "Pod", namespace: "shop", name: "web-0", ...(uid ? { uid } : {}) },
    });
    const events = [
      oom("old", "about the pod before"),
      oom("new", "about this pod"),
      oom(undefined, "no uid"),
    ];
    expect(new EventIndex(events).of(current).map((e) => e.message)).toEqual(["about this pod", "no uid"]);
  });

  it("finds nothing wrong with healthy objects", () => {
    expect(
      rulesOf([
        pod("ok", {
          phase: "Running",
          conditions: [{ type: "Ready", status: "True" }],
          containerStatuses: [{ name: "main", ready: true, state: { running: {} } }],
        }),
        {
          kind: "Deployment",
          metadata: { name: "d", namespace: "shop" },
          spec: { replicas: 2, template: { spec: { containers: [] } } },
          status: { readyReplicas: 2 },
        },
      ]),
    ).toEqual([]);
  });

  it.each([
    ["*/5 * * * *", true],
    ["0 3 * * mon-fri", true],
    ["@daily", true],
    ["60 * * * *", false],
    ["* * *", false],
  ])("cron schedule %s is valid: %s", (schedule, valid) => {
    expect(validCron(schedule)).toBe(valid);
  });
});
