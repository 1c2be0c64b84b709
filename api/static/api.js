// The page's only way to the service: the API key from local storage, errors in the service's one
// contract ({"error": {"code", "message", "traceId"}}), Server-Sent Events read from a POST, uploads.

const KEY_STORAGE = "rag.apiKey";

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) || "",
  set: (value) => (value ? localStorage.setItem(KEY_STORAGE, value) : localStorage.removeItem(KEY_STORAGE)),
};

export class ApiError extends Error {
  constructor(status, message, traceId) {
    super(message);
    this.status = status;
    this.traceId = traceId || null;
  }
}

function withKey(headers = {}) {
  const key = apiKey.get();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

function errorFromBody(status, text, traceId) {
  try {
    const { error } = JSON.parse(text);
    if (error) return new ApiError(status, error.message, error.traceId || traceId);
  } catch {
    // not the contract (a proxy's page, say): show the status
  }
  return new ApiError(status, `HTTP ${status}`, traceId);
}

async function send(path, init) {
  try {
    const response = await fetch(path, init);
    if (!response.ok) {
      throw errorFromBody(response.status, await response.text(), response.headers.get("x-trace-id"));
    }
    return response;
  } catch (error) {
    if (error instanceof ApiError || error.name === "AbortError") throw error;
    throw new ApiError(0, `the server did not answer (${error.message})`);
  }
}

/** A JSON call; 204 gives null. */
export async function call(method, path, body) {
  const init = { method, headers: withKey() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await send(path, init);
  return response.status === 204 ? null : response.json();
}

/** A binary resource (page image, original file) as a Blob: an <img> cannot send the key itself. */
export async function blob(path) {
  return (await send(path, { headers: withKey() })).blob();
}

/** POST with `stream: true` and yield each SSE `data:` payload as an object until `[DONE]`.
 *  EventSource only does GET, hence this small reader. */
export async function* stream(path, body, signal) {
  const response = await send(path, {
    method: "POST",
    headers: withKey({ "Content-Type": "application/json" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart());
      if (!data.length) continue; // a keep-alive comment
      if (data.join("\n") === "[DONE]") return;
      yield JSON.parse(data.join("\n"));
    }
  }
}

/** Multipart upload with progress (fetch cannot report upload progress, XMLHttpRequest can).
 *  Resolves to {status, body}; rejects with ApiError for any error answer. */
export function upload(collection, items, onProgress) {
  const form = new FormData();
  for (const { file, documentId } of items) {
    form.append("files", file, file.name);
    form.append("document_id", documentId);
  }
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/v1/collections/${encodeURIComponent(collection)}/documents`);
    const key = apiKey.get();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded, event.total);
    xhr.onerror = () => reject(new ApiError(0, "the upload did not reach the server"));
    xhr.onload = () => {
      const traceId = xhr.getResponseHeader("x-trace-id");
      if (xhr.status >= 400) reject(errorFromBody(xhr.status, xhr.responseText, traceId));
      else resolve({ status: xhr.status, body: JSON.parse(xhr.responseText) });
    };
    xhr.send(form);
  });
}

export const path = {
  collection: (name) => `/v1/collections/${encodeURIComponent(name)}`,
  documents: (name) => `/v1/collections/${encodeURIComponent(name)}/documents`,
  sources: (name) => `/v1/collections/${encodeURIComponent(name)}/sources`,
  // Document ids may hold slashes (files from a folder): the routes take them as a path, so keep them.
  document: (name, id) => `/v1/collections/${encodeURIComponent(name)}/documents/${id.split("/").map(encodeURIComponent).join("/")}`,
};
