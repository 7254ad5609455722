// An MCP agent for the MCP bridge's tests, written with the official
// TypeScript SDK client over streamable HTTP:
//
//   node client.mjs URL TOKEN TOOL JSON_ARGS [TOOL JSON_ARGS ...]
//
// connects to URL with Authorization: Bearer TOKEN (none if TOKEN is "-"),
// lists the tools, calls each TOOL with its arguments in turn and prints one
// JSON line: {"tools": [names], "resources": [uris], "prompts": [names],
// "results": [CallToolResult...]}. A TOOL "read:URI" reads that resource
// and "get:NAME" gets that prompt (JSON_ARGS its arguments) instead; their
// result, or {"error": {code, message, data}} when the request fails, goes
// into results. A failure to connect prints {"error": message} and exits 1.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, ...calls] = process.argv.slice(2);
const headers = token === "-" ? {} : { Authorization: "Bearer " + token };
const client = new Client({ name: "ts-sdk-agent", version: "1.0.0" });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(1);
}
const tools = (await client.listTools()).tools.map((t) => t.name);
const caps = client.getServerCapabilities() ?? {};
const resources = caps.resources ? (await client.listResources()).resources.map((r) => r.uri) : [];
const prompts = caps.prompts ? (await client.listPrompts()).prompts.map((p) => p.name) : [];
const results = [];
for (let i = 0; i + 1 < calls.length; i += 2) {
  const [name, args] = [calls[i], JSON.parse(calls[i + 1])];
  try {
    if (name.startsWith("read:")) {
      results.push(await client.readResource({ uri: name.slice(5) }));
    } else if (name.startsWith("get:")) {
      results.push(await client.getPrompt({ name: name.slice(4), arguments: args }));
    } else {
      results.push(await client.callTool({ name, arguments: args }));
    }
  } catch (err) {
    results.push({ error: { code: err.code, message: err.message, data: err.data } });
  }
}
console.log(JSON.stringify({ tools, resources, prompts, results }));
await client.close();
