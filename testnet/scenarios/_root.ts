/** Scenario tests need root and network namespaces (CI runs as root); elsewhere they are skipped loudly. */
export const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("testnet scenarios SKIPPED: they need root (network namespaces)");

/** Reads a process's stdout until `marker` appears (or the stream ends). */
export async function waitForLine(
  stream: ReadableStream<Uint8Array> | null,
  marker: string,
  timeoutMs = 5000,
): Promise<string> {
  if (!stream) throw new Error("no stdout to read");
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!text.includes(marker)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for '${marker}'; got: ${text}`);
      const chunk = await Promise.race([
        reader.read(),
        Bun.sleep(left).then(() => ({ done: true, value: undefined }) as const),
      ]);
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  if (!text.includes(marker)) throw new Error(`stream ended before '${marker}'; got: ${text}`);
  return text;
}
