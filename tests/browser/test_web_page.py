"""The web page as a person uses it, in headless Chromium against a real `rag serve` with the local model."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.conftest import API_KEY, wait_for
from tests.conftest import make_pdf

pytestmark = pytest.mark.slow

PDF_PAGES = [
    "Welcome to the company. This handbook explains how we work together, where the offices are and who to ask.",
    "Annual leave. Full-time employees receive 25 days of paid annual leave per year. "
    "Leave requests are made in PeopleHub at least two weeks ahead.",
]
MARKDOWN = "# RX-200 robot errors\n\nError E09 means a charging fault: clean the charging contacts of the robot.\n"
QUESTION = "How many days of paid annual leave do full-time employees receive?"
# Counts the highlight's yellow pixels in the page image the dialog shows (a blob: URL, so the canvas may read it).
YELLOW_PIXELS_JS = """
const img = document.querySelector('#citation-image');
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const ctx = canvas.getContext('2d'); ctx.drawImage(img, 0, 0);
const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
let yellow = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] > 220 && data[i + 1] > 180 && data[i + 2] < 170) yellow++;
return yellow;
"""


def css(browser: WebDriver, selector: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, selector)


def save_key(browser: WebDriver, key: str) -> None:
    field = css(browser, "#api-key")
    field.clear()
    field.send_keys(key, Keys.ENTER)


def row_text(browser: WebDriver, table: str, document_id: str) -> str:
    """The row's text, or "" when there is none; a row the table redrew while it was read is found again."""
    for _ in range(5):
        rows = browser.find_elements(By.CSS_SELECTOR, f'{table} tr[data-document-id="{document_id}"]')
        try:
            return rows[0].text if rows else ""
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the {table} row of {document_id} kept being redrawn")


def form_error(browser: WebDriver, form: str) -> str:
    errors = browser.find_elements(By.CSS_SELECTOR, f"{form} .error")
    return errors[0].text if errors else ""


def test_a_user_uploads_asks_opens_the_cited_page_and_deletes_a_document(
    rag_server: str, browser: WebDriver, shot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pdf, markdown = tmp_path / "handbook.pdf", tmp_path / "robot-errors.md"
    pdf.write_bytes(make_pdf(PDF_PAGES))
    markdown.write_text(MARKDOWN)

    browser.get(rag_server + "/")
    banner = wait_for(browser, EC.visibility_of_element_located((By.ID, "banner")))
    assert "needs an API key" in banner.text and "401" in banner.text
    shot("no-key")
    save_key(browser, "not-the-key")
    wait_for(browser, lambda b: "refused this API key" in css(b, "#banner").text)
    shot("wrong-key")
    save_key(browser, API_KEY)
    wait_for(browser, EC.invisibility_of_element_located((By.ID, "banner")))

    css(browser, "#collection-name").send_keys("handbooks", Keys.ENTER)
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "workspace-title"), "Collection: handbooks"))
    shot("collection-created")

    css(browser, "#upload-files").send_keys(f"{pdf}\n{markdown}")
    for name in ("handbook.pdf", "robot-errors.md"):
        wait_for(browser, lambda b, name=name: row_text(b, "#upload-table", name).startswith(f"{name} ingested"))
    assert "2 pages" in row_text(browser, "#upload-table", "handbook.pdf")
    wait_for(browser, lambda b: row_text(b, "#documents-table", "robot-errors.md"))
    assert row_text(browser, "#documents-table", "handbook.pdf").startswith("handbook.pdf 2 ")
    assert "2 documents" in css(browser, '#collection-list li[data-collection="handbooks"]').text
    shot("uploaded")

    css(browser, "#ask-question").send_keys(QUESTION, Keys.ENTER)
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, '.turn .answer[aria-busy="false"]')))
    answer = css(browser, ".turn .answer").text
    assert "25 days" in answer and "[1]" in answer, answer
    assert not browser.find_elements(By.CSS_SELECTOR, ".turn .error")
    sources = css(browser, ".turn .sources-panel").text
    assert "[1] handbook.pdf · page 2 · score" in sources, sources
    shot("answer")

    css(browser, ".turn button.cite").click()
    wait_for(browser, EC.visibility_of_element_located((By.ID, "citation-dialog")))
    assert css(browser, "#citation-title").text == "[1] handbook.pdf, page 2"
    assert "25 days of paid annual leave" in css(browser, "#citation-text mark").text
    wait_for(browser, lambda b: b.execute_script("const i = document.querySelector('#citation-image');"
                                                  " return i.complete && i.naturalWidth > 0"))  # fmt: skip
    assert css(browser, "#citation-caption").text == "Page 2 of handbook.pdf, the quote outlined"
    assert browser.execute_script(YELLOW_PIXELS_JS) > 500  # the quote is outlined on the page itself
    shot("citation")
    css(browser, "#citation-dialog [data-close]").click()

    css(browser, "#ask-question").send_keys("What does the flux capacitor XJ-9000 do?", Keys.ENTER)
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, '.turn .answer[aria-busy="false"]')) == 2)
    abstention = browser.find_elements(By.CSS_SELECTOR, ".turn")[1]
    assert "abstained" in abstention.get_attribute("class") and abstention.text.count("No answer:") == 1
    shot("abstention")
    closest = abstention.find_element(By.CSS_SELECTOR, ".sources-panel li button.link")
    closest_name = closest.text.split("] ")[1]
    closest.click()
    wait_for(browser, EC.visibility_of_element_located((By.ID, "citation-dialog")))
    assert css(browser, "#citation-title").text.startswith(f"[1] {closest_name}")
    assert css(browser, "#citation-figure").is_displayed() == closest_name.endswith(".pdf")
    css(browser, "#citation-dialog [data-close]").click()

    browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot("phone-width")
    browser.set_window_size(1280, 1000)

    css(browser, '#documents-table tr[data-document-id="handbook.pdf"] button.link').click()
    wait_for(browser, EC.visibility_of_element_located((By.ID, "document-dialog")))
    wait_for(browser, lambda b: "chunks 1-" in css(b, "#chunks-range").text)
    assert "Full-time employees receive 25 days" in css(browser, "#chunk-list").text
    css(browser, "#summary-instruction").send_keys("One short sentence.", Keys.ENTER)
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, '#summary-output[aria-busy="false"]')))
    summary = css(browser, "#summary-output")
    assert summary.text.strip() and not summary.find_elements(By.CSS_SELECTOR, ".error"), summary.text
    shot("summary")
    css(browser, "#document-dialog [data-close]").click()

    css(browser, '#documents-table tr[data-document-id="robot-errors.md"] button.danger').click()
    wait_for(browser, EC.alert_is_present()).accept()  # type: ignore[union-attr]
    wait_for(browser, lambda b: not row_text(b, "#documents-table", "robot-errors.md"))
    assert row_text(browser, "#documents-table", "handbook.pdf")
    wait_for(browser, lambda b: "1 documents" in css(b, '#collection-list li[data-collection="handbooks"]').text)
    shot("document-deleted")


def test_the_page_works_by_keyboard_with_labelled_fields_and_visible_focus(rag_server: str, browser: WebDriver) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    httpx.post(f"{rag_server}/v1/collections", json={"name": "keyboard"}, headers=auth).raise_for_status()
    browser.get(rag_server + "/")
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, textarea')].filter(f => !f.labels.length).map(f => f.id)"
    )
    assert unlabelled == []
    # Without a key the page says so and puts the cursor in the key field.
    wait_for(browser, EC.visibility_of_element_located((By.ID, "banner")))
    assert browser.switch_to.active_element.get_attribute("id") == "api-key"
    browser.switch_to.active_element.send_keys(API_KEY, Keys.ENTER)
    wait_for(browser, EC.invisibility_of_element_located((By.ID, "banner")))
    css(browser, '#collection-list li[data-collection="keyboard"] .choose').send_keys(Keys.ENTER)
    wait_for(browser, EC.text_to_be_present_in_element((By.ID, "workspace-title"), "Collection: keyboard"))
    browser.refresh()
    wait_for(browser, lambda b: b.execute_script("return document.body.dataset.ready === 'true'"))
    # The first Tab reaches the skip link, with a visible outline; it leads to the question box.
    css(browser, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Skip to the question box"
    assert browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle") == "solid"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(browser, lambda b: b.switch_to.active_element.get_attribute("id") == "ask-question")
    assert other_hosts(browser) == []  # the page needs nothing from another host


def test_the_new_collection_form_states_and_takes_the_names_the_api_takes(rag_server: str, browser: WebDriver) -> None:
    browser.get(rag_server + "/")
    wait_for(browser, EC.visibility_of_element_located((By.ID, "banner")))
    save_key(browser, API_KEY)
    wait_for(browser, EC.invisibility_of_element_located((By.ID, "banner")))
    hint = css(browser, "#collection-name-hint").text
    assert hint == "1-128 characters of any script, spaces too; no '/', not '.' or '..'"
    assert css(browser, "#collection-name").get_attribute("aria-describedby") == "collection-name-hint"

    # Two characters, spaces and punctuation: refused by the page's old check, taken by the API.
    for name in ("HR", "Équipe RH: 2025 & co"):
        css(browser, "#collection-name").send_keys(name, Keys.ENTER)
        wait_for(browser, EC.text_to_be_present_in_element((By.ID, "workspace-title"), f"Collection: {name}"))
    # A name the API refuses: its reason shows in the form.
    css(browser, "#collection-name").send_keys("drafts/2025", Keys.ENTER)
    wait_for(browser, lambda b: "no '/'" in form_error(b, "#collection-form"))


def other_hosts(browser: WebDriver) -> list[str]:
    """Hosts other than the server's that the current page fetched anything from."""
    return browser.execute_script(  # type: ignore[no-any-return]
        "return performance.getEntriesByType('resource').map(r => new URL(r.name).host)"
        ".filter(h => h !== location.host)"
    )


def test_docs_and_redoc_render_their_operations_offline(rag_server: str, browser: WebDriver, shot) -> None:  # type: ignore[no-untyped-def]
    browser.get(rag_server + "/docs")
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10)
    assert "/v1/query" in css(browser, ".swagger-ui").text
    assert other_hosts(browser) == []
    shot("swagger-ui")
    browser.get(rag_server + "/redoc")
    wait_for(browser, lambda b: "/v1/collections/{name}/documents" in b.find_element(By.TAG_NAME, "body").text)
    # Only ReDoc's own "API docs by Redocly" logo points at its CDN: offline, that image alone is missing.
    assert set(other_hosts(browser)) <= {"cdn.redoc.ly"}
    shot("redoc")


def test_the_insights_panel_shows_what_was_asked_and_what_could_not_be_answered(
    rag_server: str, browser: WebDriver, shot
) -> None:  # type: ignore[no-untyped-def]
    """Questions asked through the API (an overview answer and two off-topic ones, which abstain without the
    model) show on the page: the counts, the abstention reason, the unanswered topic with its examples and the
    document no answer cited."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=rag_server, headers=auth, timeout=300) as client:
        client.post("/v1/collections", json={"name": "insights"}).raise_for_status()
        for filename, text in [("leave.txt", PDF_PAGES[1]), ("robot.md", MARKDOWN)]:
            client.post(
                "/v1/collections/insights/documents", json={"text": text, "filename": filename}
            ).raise_for_status()
        asked = ["What are these documents about?", "How do I descale the coffee machine?",
                 "How often should the coffee machine be descaled?"]  # fmt: skip
        answers = [client.post("/v1/query", json={"question": q, "collection": "insights"}).json() for q in asked]
    assert [a["abstained"] for a in answers] == [False, True, True], answers
    browser.get(rag_server + "/")
    save_key(browser, API_KEY)
    wait_for(
        browser,
        EC.element_to_be_clickable((By.CSS_SELECTOR, '#collection-list li[data-collection="insights"] .choose')),
    )
    css(browser, '#collection-list li[data-collection="insights"] .choose').click()
    counts = wait_for(browser, EC.visibility_of_element_located((By.ID, "insights-counts")))
    assert "Questions\n3" in counts.text and "Answered\n1 (33%)" in counts.text and "Abstained\n2" in counts.text  # type: ignore[attr-defined]
    assert "no relevant sources: 2" in css(browser, "#insights-reasons").text
    topics = css(browser, "#insights-topics").text
    assert "2 questions" in topics and "descale the coffee machine" in topics
    assert "None: every document was cited." in css(browser, "#insights-body").text  # the overview cited both
    assert "null" not in css(browser, "#insights-body").text and "Votes up / down\n0 / 0" in counts.text  # type: ignore[attr-defined]
    browser.execute_script("document.querySelector('#insights-title').scrollIntoView()")
    shot("insights")
