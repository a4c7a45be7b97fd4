import { describe, expect, it } from "vitest";
import { fitObject, TRUNCATED_ANNOTATION } from "./cluster-sync.js";

const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));
const metadata = { name: "big", namespace: "ops", uid: "u1", resourceVersion: "9", labels: { team: "a" } };

describe("fitObject", () => {
  it("sends an object that fits whole, and says nothing", () => {
    const object = { apiVersion: "v1", kind: "ConfigMap", metadata, data: { k: "v" } };
    const truncated: number[] = [];
    expect(decode(fitObject(object, 1000, (n) => truncated.push(n)))).toEqual(object);
    expect(truncated).toEqual([]);
  });

  it("keeps a CRD's names and printer columns and drops its schemas", () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { kind: "Widget", plural: "widgets" },
        versions: [
          {
            name: "v1",
            served: true,
            additionalPrinterColumns: [{ name: "Size", type: "string", jsonPath: ".spec.size" }],
            schema: { openAPIV3Schema: { description: "x".repeat(5000) } },
          },
        ],
      },
    };
    const truncated: number[] = [];
    const fitted = decode(fitObject(crd, 2000, (n) => truncated.push(n)));
    expect(fitted.spec.names).toEqual(crd.spec.names);
    expect(fitted.spec.versions).toEqual([
      { name: "v1", served: true, additionalPrinterColumns: crd.spec.versions[0]!.additionalPrinterColumns },
    ]);
    expect(truncated).toEqual([JSON.stringify(crd).length]);
    expect(fitted.metadata.annotations[TRUNCATED_ANNOTATION]).toBe(String(truncated[0]));
  });

  it("keeps only apiVersion, kind and metadata of any other object", () => {
    const object = { apiVersion: "v1", kind: "ConfigMap", metadata, data: { blob: "x".repeat(5000) } };
    expect(decode(fitObject(object, 2000))).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        ...metadata,
        annotations: { [TRUNCATED_ANNOTATION]: String(JSON.stringify(object).length) },
      },
    });
  });

  it("keeps what identifies an object whose metadata alone is too large", () => {
    const object = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { ...metadata, annotations: { note: "x".repeat(5000) } },
    };
    const fitted = decode(fitObject(object, 2000));
    expect(fitted.metadata).toEqual({
      ...metadata,
      annotations: { [TRUNCATED_ANNOTATION]: String(JSON.stringify(object).length) },
    });
  });
});
