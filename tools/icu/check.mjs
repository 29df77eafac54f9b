// Parses translation strings as Home Assistant's frontend does (ICU MessageFormat, formatjs
// defaults: tags are parsed, plural and select need an "other" clause).
// Usage: node check.mjs NODE_MODULES < messages.json, where NODE_MODULES holds this folder's
// package-lock.json installed (npm ci). Reads a JSON object {key: string} on stdin; writes a
// JSON object {key: error} holding the strings the parser refuses, each with the parser's
// error kind (e.g. INVALID_TAG) and where.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const parser = join(process.argv[2], "@formatjs", "icu-messageformat-parser", "index.js");
const { parse } = await import(pathToFileURL(parser).href);

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const messages = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const errors = {};
for (const [key, message] of Object.entries(messages)) {
  try {
    parse(message);
  } catch (error) {
    const start = error.location?.start;
    const where = start ? ` at offset ${start.offset}` : "";
    const text = start ? `: ${JSON.stringify(message.slice(start.offset, start.offset + 20))}` : "";
    errors[key] = `${error.message}${where}${text}`;
  }
}
process.stdout.write(JSON.stringify(errors));
