"""Scans and images uploaded over real HTTP: read by the real Tesseract in a background job, page by page,
then searchable and cited on the right page."""

from __future__ import annotations

import httpx

from tests.documents import make_image_pdf, render_text_image
from tests.integration.api.test_documents_api import create, upload, wait_for_job
from tests.waiting import wait_until

PARKING = ["Parking rules", "Visitors park in bay C behind the library.", "The barrier opens with a staff badge."]
LEAVE = ["Annual leave policy", "Full-time employees get 27 days of paid annual leave.",
         "Part-time staff accrue leave pro rata."]  # fmt: skip
TEXT_PAGE = "The canteen opens at 11:30 on weekdays and serves soup, salads and a hot dish of the day."


def uploaded_as_job(client: httpx.Client, files: list[tuple[str, bytes]]) -> dict:  # type: ignore[type-arg]
    response = upload(client, files)
    assert response.status_code == 202, response.text  # small, but OCR takes seconds a page: a job
    job = wait_for_job(client, response.json()["job_id"], timeout=900)
    assert job["status"] == "done" and not job["failures"], job
    return job


def test_a_scanned_pdf_is_searchable_and_its_answer_cites_the_right_page(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(answer_mode="extract"), timeout=300) as client:
        create(client)
        job = uploaded_as_job(client, [("scan.pdf", make_image_pdf([PARKING, LEAVE]))])
        assert (job["ocr_pages_done"], job["ocr_pages_total"]) == (2, 2)
        assert job["results"][0]["pages"] == 2

        hits = client.post("/v1/search", json={"query": "bay C visitors parking", "collection": "docs1"}).json()
        assert (hits["results"][0]["filename"], hits["results"][0]["page"]) == ("scan.pdf", 1)

        question = "How many days of paid annual leave do full-time employees get?"
        answer = client.post("/v1/query", json={"question": question, "collection": "docs1"}).json()
        assert not answer["abstained"] and "27 days" in answer["answer"], answer
        cited = [answer["sources"][c["n"] - 1] for c in answer["citations"]]
        assert cited and all((s["filename"], s["page"]) == ("scan.pdf", 2) for s in cited)

        # The citation view outlines the quote on the scanned page, from the word boxes OCR kept.
        page = "/v1/collections/docs1/documents/scan.pdf/pages"
        quote = answer["citations"][0]["quote"]
        marked = client.get(f"{page}/2.png", params={"highlight": quote, "width": 600})
        assert marked.status_code == 200 and marked.headers["content-type"] == "image/png"
        assert int(marked.headers["x-highlighted-boxes"]) >= 1
        assert client.get(f"{page}/1.png", params={"highlight": quote}).headers["x-highlighted-boxes"] == "0"


def test_a_mixed_pdf_keeps_its_text_page_and_reads_its_scan(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        create(client)
        uploaded_as_job(client, [("mixed.pdf", make_image_pdf([TEXT_PAGE, LEAVE]))])
        chunks = client.get("/v1/collections/docs1/documents/mixed.pdf/chunks").json()["chunks"]
        by_page = {c["page"]: c["text"] for c in chunks}
        assert by_page[1] == TEXT_PAGE  # the text layer, word for word
        assert "27 days of paid annual leave" in " ".join(by_page[2].split())


def test_a_png_upload_is_read_and_found(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        create(client)
        job = uploaded_as_job(client, [("notice.png", render_text_image(PARKING))])
        assert job["ocr_pages_done"] == 1
        hits = client.post("/v1/search", json={"query": "staff badge barrier", "collection": "docs1"}).json()
        assert hits["results"][0]["filename"] == "notice.png"
        original = client.get("/v1/collections/docs1/documents/notice.png/original")
        assert original.headers["content-type"] == "image/png"
        marked = client.get(
            "/v1/collections/docs1/documents/notice.png/pages/1.png", params={"highlight": "park in bay C"}
        )
        assert marked.status_code == 200 and marked.headers["x-highlighted-boxes"] == "1"  # one line of words


def test_with_ocr_off_a_scan_fails_at_once_saying_what_to_do(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(ocr="off"), timeout=300) as client:
        create(client)
        response = upload(client, [("scan.pdf", make_image_pdf([LEAVE])), ("notes.txt", b"Kept: the notes.")])
        assert response.status_code == 201, response.text  # nothing to OCR: no job
        results = {r["filename"]: r for r in response.json()["results"]}
        assert results["notes.txt"]["status"] == "ingested"
        scan = results["scan.pdf"]
        assert scan["status"] == "failed" and scan["status_code"] == 400
        assert "no text layer on page 1, and OCR is off (RAG_OCR=off): set RAG_OCR=auto" in scan["reason"]


def test_searches_and_small_uploads_answer_while_a_scan_is_read(live_server) -> None:  # type: ignore[no-untyped-def]
    """The interactive-first rule with OCR: the job's own pages are the clock (any machine, any load). A request
    that waited behind the OCR job would see pages go by; one served first sees at most the page in flight."""
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        create(client)
        assert upload(client, [("notes.txt", b"The code word is kestrel.")]).status_code == 201
        accepted = upload(client, [("scan.pdf", make_image_pdf([LEAVE, PARKING] * 4))])
        assert accepted.status_code == 202, accepted.text
        job_url = f"/v1/jobs/{accepted.json()['job_id']}"

        def pages_done() -> int:
            return int(client.get(job_url).json()["ocr_pages_done"])

        def under_way() -> bool:
            job = client.get(job_url).json()
            return 0 < job["ocr_pages_done"] < job["ocr_pages_total"] - 3

        wait_until(under_way, "the OCR job reading its pages", timeout=900, every=0.2)
        before = pages_done()
        hits = client.post("/v1/search", json={"query": "code word", "collection": "docs1"})
        small = upload(client, [("more.txt", b"The second code word is osprey.")])
        after = pages_done()
        assert hits.status_code == 200 and hits.json()["results"][0]["filename"] == "notes.txt"
        assert small.status_code == 201 and small.json()["results"][0]["status"] == "ingested"
        assert after - before <= 2, f"the requests waited while the job read {after - before} pages"
        assert wait_for_job(client, accepted.json()["job_id"], timeout=1800)["status"] == "done"
