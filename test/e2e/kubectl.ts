// The kubectl that apply.sh and the end-to-end test call (KUBECTL=...): it hands its arguments to
// the e2e node over the node's Unix socket (E2E_NODE_SOCKET) and prints what the node answers.
import http from "node:http";

function request(socket: string, body: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: "/kubectl", method: "POST", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const reply = JSON.parse(Buffer.concat(chunks).toString()) as { code: number; stdout: string; stderr: string; error?: string };
        if (reply.error) reject(new Error(reply.error));
        else resolve(reply);
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(): Promise<void> {
  const socket = process.env.E2E_NODE_SOCKET;
  if (!socket) {
    process.stderr.write("kubectl (e2e stand-in): E2E_NODE_SOCKET is not set\n");
    process.exit(2);
  }
  const argv = process.argv.slice(2);
  const dashdash = argv.indexOf("--");
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const stdin = own.includes("-i") || own.includes("--stdin") ? await readStdin() : undefined;
  const reply = await request(socket, { argv, stdin: stdin?.toString("base64") });
  process.stdout.write(Buffer.from(reply.stdout, "base64"));
  process.stderr.write(reply.stderr);
  process.exitCode = reply.code;
}

main().catch((e: Error) => {
  process.stderr.write(`kubectl (e2e stand-in): ${e.message}\n`);
  process.exit(1);
});
