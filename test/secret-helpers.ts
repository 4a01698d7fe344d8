// Shared by the secret tests: a secret that YAML and JSON must escape, a schema with more ways to
// reach a secret, the CLI run in this process with everything it prints, and a secret's spellings.
import { main } from "../src/cli";
import { serializeManifest } from "../src/kube-yaml";
import type { ParamSchema } from "../src/types";
import { TEST_SCHEMA } from "./helpers";

/** A secret with characters that YAML and JSON escape, so that masking must see through escapes. */
export const NASTY_SECRET = 'Pw"x\\y: #z\'q\u2028end';
/** The test schema with the image helper's parameters, a list, and a second secret. */
export const ATTACK_SCHEMA: ParamSchema = {
  ...TEST_SCHEMA,
  properties: {
    ...TEST_SCHEMA.properties,
    docker_registry: { type: "string", default: "reg" },
    docker_image_prefix: { type: "string", default: "pfx" },
    image_tag: { type: "string", default: "1" },
    list: { type: "array", default: ["a", "b"] },
    token: { type: "string", writeOnly: true, default: "SENTINEL-token-77aa" },
  },
};

/** Runs the CLI in this process, capturing every byte it prints (and anything sent to the console). */
export function runMain(args: string[]): { code: number; output: string } {
  let output = "";
  const original = { error: console.error, log: console.log, warn: console.warn };
  console.error = console.log = console.warn = (...a: unknown[]) => void (output += `${a.join(" ")}\n`);
  try {
    const code = main(args, (_fd, text) => (output += text));
    return { code, output };
  } finally {
    Object.assign(console, original);
  }
}

/** Every spelling of a secret a printer could let through. */
export function secretForms(secret: string): string[] {
  const b64 = Buffer.from(secret).toString("base64");
  return [secret, JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret)).slice(1, -1), serializeManifest({ a: secret }).slice(3, -1), b64.slice(0, -4), secret.replace(/'/g, "''")];
}
