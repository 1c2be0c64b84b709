// Upload: files or a whole folder, dropped or chosen, sent in one multipart request; each file's
// progress and outcome in a table. Big uploads come back as a job, followed until it is done.

import { call, upload } from "./api.js";
import { $, el, errorNode } from "./dom.js";

const JOB_POLL_MS = 1000;

/** `collection()` names the target; `onDone()` runs after every upload; `onError` sees failures. */
export function wireUpload(collection, onDone, onError) {
  const zone = $("#drop-zone");
  const start = async (items) => {
    if (!items.length) return;
    try {
      await send(collection(), items, onError);
    } finally {
      onDone();
    }
  };
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    filesFromDrop(event.dataTransfer).then(start);
  });
  for (const input of [$("#upload-files"), $("#upload-folder")]) {
    input.addEventListener("change", () => {
      // A file from a folder keeps its path as document id, so same-named files in sub-folders stay apart.
      const items = [...input.files].map((file) => ({ file, documentId: file.webkitRelativePath || file.name }));
      input.value = "";
      start(items.filter((item) => !hidden(item.documentId)));
    });
  }
}

const hidden = (relativePath) => relativePath.split("/").some((part) => part.startsWith("."));

/** The dropped files, folders walked (their entries must be taken before the first await). */
function filesFromDrop(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  const plain = [...dataTransfer.files];
  const items = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      items.push({ file, documentId: prefix + file.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  if (!entries.length) return Promise.resolve(plain.map((file) => ({ file, documentId: file.name })));
  return (async () => {
    for (const entry of entries) await walk(entry, "");
    return items.filter((item) => !hidden(item.documentId));
  })();
}

async function send(collection, items, onError) {
  const table = $("#upload-table");
  const rows = new Map();
  table.tBodies[0].replaceChildren(
    ...items.map((item) => {
      const outcome = el("td", { class: "outcome" }, "waiting");
      rows.set(item.documentId, outcome);
      return el("tr", { "data-document-id": item.documentId }, el("td", {}, item.documentId), outcome);
    }),
  );
  table.hidden = false;
  const summary = $("#upload-summary");
  summary.textContent = `Uploading ${items.length} file(s) to ${collection}…`;
  // Progress per file from the request's bytes: files go into the body in order.
  const ends = [];
  items.reduce((sum, item) => (ends.push(sum + item.file.size), sum + item.file.size), 0);
  const progress = (loaded, total) => {
    const sent = (loaded / total) * ends[ends.length - 1];
    items.forEach((item, i) => {
      const begin = i ? ends[i - 1] : 0;
      const cell = rows.get(item.documentId);
      if (sent >= ends[i]) cell.textContent = "uploaded, ingesting…";
      else if (sent > begin) cell.textContent = `uploading ${Math.round(((sent - begin) / (item.file.size || 1)) * 100)}%`;
    });
  };
  try {
    const { status, body } = await upload(collection, items, progress);
    if (status === 202) await followJob(body.job_id, rows, summary);
    else showResults(body.results, rows, summary);
  } catch (error) {
    summary.replaceChildren(errorNode(error));
    for (const cell of rows.values()) setOutcome(cell, { status: "failed", reason: error.message });
    onError(error);
  }
}

async function followJob(jobId, rows, summary) {
  for (;;) {
    const job = await call("GET", `/v1/jobs/${encodeURIComponent(jobId)}`);
    for (const result of job.results) setOutcome(rows.get(result.document_id), result);
    const ocr = job.ocr_pages_total ? ` OCR: ${job.ocr_pages_done} of ${job.ocr_pages_total} scanned pages.` : "";
    summary.textContent = `Job ${job.id} ${job.status}: ${job.files_done} of ${job.files_total} files, ${job.chunks_done} chunks.${ocr}`;
    if (job.status === "done" || job.status === "failed" || job.status === "cancelled") {
      if (job.error) summary.append(` ${job.error}`);
      showResults(job.results, rows, summary, summary.textContent);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
  }
}

function showResults(results, rows, summary, prefix = "") {
  for (const result of results) setOutcome(rows.get(result.document_id), result);
  const count = (status) => results.filter((r) => r.status === status).length;
  summary.textContent =
    `${prefix} ${results.length} file(s): ${count("ingested")} ingested, ${count("unchanged")} unchanged, ${count("failed")} failed.`.trim();
}

function setOutcome(cell, result) {
  if (!cell) return;
  const detail =
    result.status === "failed" ? `: ${result.reason}` : ` · ${result.chunks} chunks${result.pages ? `, ${result.pages} pages` : ""}`;
  cell.replaceChildren(el("span", { class: `badge ${result.status}` }, result.status), detail);
}
