// The document view: its details, its chunks page by page, a streamed summary, the original file.

import { blob, call, path, stream } from "./api.js";
import { $, el, errorNode, formatBytes, formatDate, instructionsFlag } from "./dom.js";

const CHUNKS_PER_PAGE = 5;
let current = null; // {collection, doc, offset}

export function wireDocumentView(onError) {
  $("#chunks-prev").addEventListener("click", () => showChunks(current.offset - CHUNKS_PER_PAGE, onError));
  $("#chunks-next").addEventListener("click", () => showChunks(current.offset + CHUNKS_PER_PAGE, onError));
  $("#document-download").addEventListener("click", () => download(onError));
  $("#summary-form").addEventListener("submit", (event) => {
    event.preventDefault();
    summarize(onError);
  });
}

export async function openDocument(collection, doc, onError) {
  current = { collection, doc, offset: 0 };
  $("#document-title").textContent = doc.filename;
  const pages = doc.pages ? `${doc.pages} pages · ` : "";
  $("#document-meta").textContent =
    `id ${doc.document_id} · ${pages}${doc.chunk_count} chunks · ${formatBytes(doc.size)} · updated ${formatDate(doc.updated_at)}`;
  $("#summary-output").hidden = true;
  $("#summary-instruction").value = "";
  $("#chunk-list").replaceChildren();
  $("#document-dialog").showModal();
  await showChunks(0, onError);
}

async function showChunks(offset, onError) {
  const { collection, doc } = current;
  const list = $("#chunk-list");
  try {
    const page = await call("GET", `${path.document(collection, doc.document_id)}/chunks?limit=${CHUNKS_PER_PAGE}&offset=${offset}`);
    current.offset = offset;
    list.start = offset + 1;
    list.replaceChildren(
      ...page.chunks.map((chunk) =>
        el("li", {}, el("p", { class: "muted" }, chunk.page ? `page ${chunk.page}` : "", instructionsFlag(chunk)), el("p", { class: "chunk-text" }, chunk.text)),
      ),
    );
    const last = Math.min(offset + page.chunks.length, page.total);
    $("#chunks-range").textContent = `chunks ${page.total ? offset + 1 : 0}-${last} of ${page.total}`;
    $("#chunks-prev").disabled = offset === 0;
    $("#chunks-next").disabled = last >= page.total;
  } catch (error) {
    list.replaceChildren(errorNode(error));
    onError(error);
  }
}

async function summarize(onError) {
  const { collection, doc } = current;
  const output = $("#summary-output");
  const instruction = $("#summary-instruction").value.trim() || undefined;
  output.hidden = false;
  output.setAttribute("aria-busy", "true");
  output.replaceChildren(el("span", { class: "muted" }, "Summarizing…"));
  let text = "";
  try {
    for await (const event of stream("/v1/summarize", { collection, document_id: doc.document_id, instruction })) {
      if (event.type === "delta") {
        text += event.text;
        output.replaceChildren(text);
      } else if (event.type === "error") {
        output.append(errorNode({ status: event.error.code, ...event.error }));
      }
    }
  } catch (error) {
    output.replaceChildren(errorNode(error));
    onError(error);
  } finally {
    output.setAttribute("aria-busy", "false");
  }
}

async function download(onError) {
  const { collection, doc } = current;
  try {
    const file = await blob(`${path.document(collection, doc.document_id)}/original`);
    const url = URL.createObjectURL(file);
    const link = el("a", { href: url, download: doc.filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    $("#document-meta").after(errorNode(error));
    onError(error);
  }
}
