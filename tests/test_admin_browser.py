"""The admin page in a real headless Chromium (Debian's chromium and
chromium-driver), driven by Selenium. Elements are found by their
accessible names (CONTRACT §9), never by CSS classes.

Screenshots of each page at 1280 and 375 px wide go to
``$FIDES_OAUTH_SCREENSHOTS`` (default: a temporary folder), for a person to
look at; they are not committed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian's chromium and chromium-driver are not installed "
    "(.ci/run installs them)",
)


@pytest.fixture
def served(make_app: Any) -> Iterator[tuple[str, Any]]:
    from werkzeug.serving import make_server

    app = make_app(FIDES_OAUTH_ADMIN=True, AUTHLIB_INSECURE_TRANSPORT="1")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots() -> Path:
    folder = Path(
        os.environ.get("FIDES_OAUTH_SCREENSHOTS")
        or tempfile.mkdtemp(prefix="fides_oauth_admin_")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _field(driver: Any, label: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH, f'//*[@id=//label[normalize-space()="{label}"]/@for]'
    )


def _button(driver: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH,
        f'//button[normalize-space()="{name}"] | //a[normalize-space()="{name}"]',
    )


def _go(driver: Any, name: str) -> None:
    """Click the button or link ``name`` and wait for the next page."""
    _navigate(driver, lambda: _button(driver, name).click())


def _navigate(driver: Any, action: Callable[[], None]) -> None:
    """Do ``action`` and wait until the next page has loaded (the old page's
    marker is gone and the new one is complete)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__leaving = true;")
    action()

    def arrived(d: Any) -> bool:
        try:
            return bool(
                d.execute_script(
                    "return window.__leaving === undefined"
                    " && document.readyState === 'complete';"
                )
            )
        except WebDriverException:  # mid-navigation
            return False

    WebDriverWait(driver, 10).until(arrived)


def _checkbox(driver: Any, label: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH, f'//label[normalize-space()="{label}"]/input[@type="checkbox"]'
    )


def _snap(driver: Any, folder: Path, name: str) -> None:
    for width in (1280, 375):
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(width, max(900, min(int(height) + 100, 4000)))
        driver.save_screenshot(str(folder / f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def _sign_in(driver: Any, base: str, client_id: str, secret: str) -> None:
    driver.get(base + "/api/v1/oauth/admin/")
    _field(driver, "Client ID").send_keys(client_id)
    _field(driver, "Client secret").send_keys(secret)
    _go(driver, "Sign in")


def test_an_operator_manages_a_client_in_the_browser(
    served: tuple[str, Any], browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    base, app = served
    oauth = OAuth(app, app.test_client())
    browser.get(base + "/api/v1/oauth/admin/")
    _snap(browser, shots, "sign-in")
    _sign_in(browser, base, ROOT_ID, ROOT_SECRET)
    assert browser.find_element(By.XPATH, "//h1[normalize-space()='Clients']")
    _snap(browser, shots, "clients")

    # Create, and see the secret once.
    _go(browser, "New client")
    _field(browser, "Name").send_keys("etl")
    _field(browser, "Description").send_keys("Nightly export")
    _checkbox(browser, "policy:read").click()
    _snap(browser, shots, "new-client")
    _go(browser, "Create client")
    assert "will not be shown again" in browser.page_source
    secret = _field(browser, "Client secret").get_attribute("value")
    client_id = browser.find_element(
        By.XPATH, "//p[starts-with(., 'Client ID')]/code"
    ).text
    _snap(browser, shots, "secret")

    # The secret works at the token endpoint.
    token = requests.post(
        base + "/api/v1/oauth/token",
        data={"client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    assert token.status_code == 200

    # Edit the scopes.
    _go(browser, "Go to the client's page")
    _snap(browser, shots, "client")
    _checkbox(browser, "policy:read").click()
    _checkbox(browser, "rule:read").click()
    _go(browser, "Save")
    assert "Saved." in browser.page_source
    stored = oauth.http.get(
        f"/api/v1/oauth/client/{client_id}", headers=oauth.root_headers()
    ).get_json()
    assert stored["scopes"] == ["rule:read"]

    # Rotate with a grace period: the old secret still works meanwhile.
    grace = _field(browser, "Grace period (seconds)")
    grace.clear()
    grace.send_keys("600")
    _go(browser, "Rotate secret")
    assert "keeps working until" in browser.page_source
    assert oauth.token(client_id, secret)
    _go(browser, "Go to the client's page")

    # Revoke tokens, then delete.
    _go(browser, "Revoke tokens")
    assert "Revoked." in browser.page_source
    _checkbox(browser, "Yes, delete this client and stop its tokens").click()
    _go(browser, "Delete client")
    assert browser.find_element(By.XPATH, "//h1[normalize-space()='Clients']")
    assert client_id not in browser.page_source

    _go(browser, "Audit trail")
    assert browser.find_element(By.XPATH, "//h1[normalize-space()='Audit trail']")
    _field(browser, "Client ID").send_keys(client_id)
    _go(browser, "Filter")
    events = [cell.text for cell in browser.find_elements(By.XPATH, "//tbody/tr/td[2]")]
    assert [event.splitlines()[0] for event in events] == [
        "client deleted",
        "client tokens revoked",
        "client secret rotated",
        "client updated",
        "client created",
    ]
    _snap(browser, shots, "audit")

    _go(browser, "Signing keys")
    _snap(browser, shots, "keys")
    _go(browser, "Rotate signing key")
    assert "A new key signs new tokens" in browser.page_source

    _go(browser, "Sign out")
    assert browser.find_element(By.XPATH, "//h1[normalize-space()='Sign in']")


def test_a_weaker_client_cannot_grant_what_it_lacks(
    served: tuple[str, Any], browser: Any, shots: Path
) -> None:
    base, app = served
    oauth = OAuth(app, app.test_client())
    weak = oauth.create_client(["client:create", "client:read", "policy:read"])
    _sign_in(browser, base, weak["client_id"], weak["client_secret"])
    _go(browser, "New client")
    assert not _checkbox(browser, "client:delete").is_enabled()
    assert _checkbox(browser, "policy:read").is_enabled()
    _snap(browser, shots, "new-client-weak")


def _tab_to(driver: Any, target: Any, limit: int = 30) -> int:
    """Press Tab until ``target`` has the focus; how many presses. Each
    element reached on the way must show where the focus is."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for presses in range(1, limit + 1):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.switch_to.active_element
        if focused.tag_name == "body":  # the focus entering the page
            continue
        outline = driver.execute_script(
            "const s = getComputedStyle(arguments[0]);"
            "return [s.outlineStyle, s.outlineWidth];",
            focused,
        )
        assert outline[0] != "none" and outline[1] != "0px", focused.get_attribute(
            "outerHTML"
        )[:120]
        if focused == target:
            return presses
    raise AssertionError(f"{target.get_attribute('outerHTML')[:120]} not reached")


def _press(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def test_the_page_works_with_the_keyboard_alone(
    served: tuple[str, Any], browser: Any
) -> None:
    """Sign in, create a client and reach its secret with Tab, typing, Space
    and Enter only, every stop showing a focus ring (WCAG 2.1.1, 2.4.7)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, _ = served
    browser.get(base + "/api/v1/oauth/admin/")
    _tab_to(browser, _field(browser, "Client ID"))
    _press(browser, ROOT_ID)
    _tab_to(browser, _field(browser, "Client secret"), limit=1)  # the next stop
    _press(browser, ROOT_SECRET)
    _navigate(browser, lambda: _press(browser, Keys.ENTER))
    assert browser.find_element(By.XPATH, "//h1[normalize-space()='Clients']")

    _tab_to(browser, _button(browser, "New client"))
    _navigate(browser, lambda: _press(browser, Keys.ENTER))
    _tab_to(browser, _field(browser, "Name"))
    _press(browser, "keyboard")
    box = _checkbox(browser, "policy:read")
    _tab_to(browser, box)
    _press(browser, Keys.SPACE)
    assert box.is_selected()
    _tab_to(browser, _button(browser, "Create client"))
    _navigate(browser, lambda: _press(browser, Keys.ENTER))
    assert "will not be shown again" in browser.page_source
    assert _field(browser, "Client secret").get_attribute("value")
