// An MCP agent for the MCP bridge's tests, written with the official
// TypeScript SDK client over streamable HTTP:
//
//   node client.mjs URL TOKEN TOOL JSON_ARGS [TOOL JSON_ARGS ...]
//
// connects to URL with Authorization: Bearer TOKEN (none if TOKEN is "-"),
// lists the tools, calls each TOOL with its arguments in turn and prints one
// JSON line: {"tools": [names], "results": [CallToolResult...]}. A failure
// to connect prints {"error": message} and exits 1.
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
const results = [];
for (let i = 0; i + 1 < calls.length; i += 2) {
  results.push(await client.callTool({ name: calls[i], arguments: JSON.parse(calls[i + 1]) }));
}
console.log(JSON.stringify({ tools, results }));
await client.close();
