"""The web chat page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
driven by Selenium): a question typed, a streamed answer with a tool step and a citation,
the conversation kept across turns, hostile tool text shown as text; a screenshot saved."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sapient import Citation, ToolCall, ToolOutput, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.serve import ServeConfig
from serve_helpers import ARTIFACTS, PASSAGES, rag_reply

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@tool
def search_docs(query: str) -> ToolOutput:
    """Search the product documents.

    Args:
        query: what to look for.
    """
    time.sleep(0.4)  # long enough for the page to show the step while it runs
    cites = [Citation(k, v, 1.0, {"source": k.split("#")[0]}) for k, v in PASSAGES.items()]
    body = "\n".join(f"[{c.source_id}] {c.text}" for c in cites)
    return ToolOutput(f"{body}\nPlanted in a document: {HOSTILE}", citations=cites)


class SlowStreamLLM(ScriptedLLM):
    """The scripted retrieval model, streaming its words 40 ms apart like a real model."""

    blocking = True

    def stream(self, messages, tools=(), **options):
        for item in super().stream(messages, tools, **options):
            time.sleep(0.04)
            yield item


@pytest.fixture
def browser(tmp_path: Path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver; .ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (sapient[dev])")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,1300", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager never runs, nothing is downloaded.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _assistant_state(driver, index: int) -> tuple[str | None, str]:
    return tuple(driver.execute_script(
        "const a = document.querySelectorAll('article.msg.assistant')[arguments[0]];"
        "return a ? [a.dataset.state, a.querySelector('.answer').textContent] : [null, ''];",
        index))


def _ask(driver, text: str, index: int) -> list[tuple[str | None, str]]:
    """Type ``text``, press Enter, and record the answer's states until it is done."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "prompt")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    seen: list[tuple[str | None, str]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append(_assistant_state(driver, index))
        if seen[-1][0] in ("done", "error"):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no answer within 60 s; states seen: {seen[-3:]}")


def test_the_page_streams_an_answer_with_a_tool_step_and_a_citation(serve_app, host, browser,
                                                                       tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server = serve_app(ServeConfig(llm=SlowStreamLLM(function=rag_reply), tools=[search_docs]),
                       host)
    browser.get(server.url + "/")
    WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element((By.ID, "model"), "sapient"))
    assert not browser.find_element(By.ID, "key-bar").is_displayed()  # no key needed here

    seen = _ask(browser, "How long does the X2 keep logging in a power cut?", 0)
    final_state, final_text = seen[-1]
    assert final_state == "done", seen[-1]
    first = next(iter(PASSAGES))
    assert final_text.startswith("The Aurora X2 keeps logging for 72 hours [1].")
    partial = [t for s, t in seen if s == "streaming" and 0 < len(t) < len(final_text) - 10]
    assert partial, "the answer never showed partially: it was not streamed"

    turn = browser.find_elements(By.CSS_SELECTOR, "article.msg.assistant")[0]
    step = turn.find_element(By.CSS_SELECTOR, "details.step[data-tool='search_docs']")
    assert step.get_attribute("open") is None  # collapsed until opened
    step.find_element(By.TAG_NAME, "summary").click()
    args = step.find_element(By.CSS_SELECTOR, ".step-args").text
    result = step.find_element(By.CSS_SELECTOR, ".step-result").text
    assert '"query": "How long does the X2 keep logging in a power cut?"' in args
    assert "72 hours" in result and "done in" in step.find_element(By.TAG_NAME, "summary").text
    assert HOSTILE in result  # hostile markup is shown as text ...
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script") == []  # ... never run
    assert browser.title == "Sapient chat"

    link = turn.find_element(By.CSS_SELECTOR, ".answer a.cite")
    assert link.text == "[1]" and link.get_attribute("title") == first
    target = link.get_attribute("href").split("#", 1)[1]
    link.click()
    passage = browser.find_element(By.ID, target)
    assert passage.find_element(By.TAG_NAME, "details").get_attribute("open") is not None
    assert PASSAGES[first] in passage.find_element(By.TAG_NAME, "blockquote").text
    assert first in passage.text
    sources = turn.find_elements(By.CSS_SELECTOR, ".sources li details")
    assert len(sources) == len(PASSAGES)

    seen = _ask(browser, "And in winter?", 1)
    assert seen[-1][0] == "done"
    assert "(turn 2; you asked: And in winter?)" in seen[-1][1]  # the session kept turn 1
    usage = browser.find_elements(By.CSS_SELECTOR, "article.msg.assistant .meta")[1].text
    assert usage.endswith("tokens")

    browser.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "web_chat.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "web_chat.png")
    print(f"screenshot: {ARTIFACTS / 'web_chat.png'}")


def test_the_page_asks_for_the_api_key_when_one_is_needed(serve_app, host, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server = serve_app(ServeConfig(llm="scripted:echo", tools=[], api_key="page-key"), host)
    browser.get(server.url + "/")
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "key-bar")))
    browser.find_element(By.ID, "api-key").send_keys("page-key")
    browser.find_element(By.ID, "save-key").click()
    WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element((By.ID, "model"), "sapient"))
    seen = _ask(browser, "echo me", 0)
    assert seen[-1] == ("done", "echo me")


def test_the_page_asks_before_a_side_effect_and_resumes_on_approve(serve_app, host, browser):
    """A held-back call shows as a question with Approve / Deny; Deny keeps it from
    running, Approve runs it once and the answer follows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    deleted = []

    @tool(effects=["writes"])
    def delete_records(ids: list[int]) -> str:
        """Delete records by id.

        Args:
            ids: the records to delete.
        """
        deleted.append(ids)
        return f"deleted {len(ids)} records"

    def reply(messages, tools, options):
        last_user = max(i for i, m in enumerate(messages) if m.role == "user")
        results = [m for m in messages[last_user:] if m.role == "tool"]
        if not results:
            return ToolCall("delete_records", {"ids": [1, 2]})
        return f"The tool said: {results[-1].content}"

    server = serve_app(ServeConfig(llm=ScriptedLLM(function=reply), tools=[delete_records]),
                       host)
    browser.get(server.url + "/")
    WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element((By.ID, "model"), "sapient"))
    wait = WebDriverWait(browser, 30)
    for n, (verdict, expected) in enumerate((("deny", "Refused: The user declined"),
                                             ("approve", "deleted 2 records"))):
        box = browser.find_element(By.ID, "prompt")
        box.send_keys(f"Delete records 1 and 2 ({verdict}).\n")
        ask = wait.until(lambda d, n=n: d.find_elements(
            By.CSS_SELECTOR, "article.msg.assistant[data-state='waiting'] .approval"))
        assert "Allow delete_records?" in ask[0].text and '"ids"' in ask[0].text
        assert "side effects (writes)" in ask[0].text
        assert deleted == []  # nothing ran while it waits (and the denied call never did)
        ask[0].find_element(By.CSS_SELECTOR, f"button.{verdict}").click()
        answers = wait.until(lambda d, k=2 * n + 1: (
            lambda a: a if len(a) > k and a[k].get_attribute("data-state") == "done" else None)(
            d.find_elements(By.CSS_SELECTOR, "article.msg.assistant")))
        assert expected in answers[2 * n + 1].find_element(By.CSS_SELECTOR, ".answer").text
    assert deleted == [[1, 2]]
