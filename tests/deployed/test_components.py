"""The web components against the deployed stack, from a team's own origin: a sign-in page
(tests/deployed/challenge_page) on another port signs in through the emulated Cognito with
aws-amplify from npm (pointed at the emulator by its `userPoolEndpoint` setting), the
<backup-codes-challenge> component served by the deployed API asks for the enrollment's first
code and, on the next sign-in, for a code; then <backup-codes-settings> calls the API across
origins with the ID token, through the CORS list the stack was deployed with. The page runs
under a strict CSP."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pyotp
import pytest
import requests

import stack as deployment
from conftest import PASSWORD, SEEN_SECRETS, Users, jwt_claims

PAGE = Path(__file__).parent / "challenge_page"
ICON = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'


def origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def page(stack_with_created_pool):
    """The team's sign-in page, on the origin the stack's CorsOrigin lists."""
    bundle = os.environ.get("AMPLIFY_BUNDLE")
    if not bundle:
        pytest.fail("AMPLIFY_BUNDLE is not set: run through infra/test.sh (need_amplify bundles aws-amplify)")
    stack = stack_with_created_pool
    emulator = os.environ["MINISTACK_URL"]
    files = {
        "/": ("text/html", (PAGE / "index.html").read_text()
              .replace("{{COMPONENTS}}", f"{stack.api_url}/v1/ui/backup-codes.js").encode()),
        "/page.js": ("text/javascript", (PAGE / "page.js").read_bytes()),
        "/amplify.js": ("text/javascript", Path(bundle).read_bytes()),
        "/favicon.ico": ("image/svg+xml", ICON),
        "/config.json": ("application/json", json.dumps({
            "userPoolId": stack.pool.id,
            "userPoolClientId": stack.pool.client_id,
            "userPoolEndpoint": emulator,
        }).encode()),
    }
    # Scripts from this page and the API only; requests to this page, Cognito and the API only.
    policy = (f"default-src 'self'; script-src 'self' {origin(stack.api_url)}; "
              f"connect-src 'self' {emulator} {origin(stack.api_url)}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            content_type, body = files.get(self.path, ("text/plain", None))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Security-Policy", policy)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *_):
            pass

    port = int(urlparse(deployment.PAGE_ORIGIN).port)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield deployment.PAGE_ORIGIN
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("components-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1000,1200", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


CHALLENGE = "document.querySelector('backup-codes-challenge').shadowRoot"
SETTINGS = "document.querySelector('backup-codes-settings').shadowRoot"


def until(browser, script: str, timeout: float = 20):
    """The value of the JavaScript expression `script` once it is truthy."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = browser.execute_script(f"return {script};")
        except Exception as error:  # the page is still loading
            value = error
        if value and not isinstance(value, Exception):
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {script} (last: {value!r})")


def password_step(browser, page: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get("about:blank")
    browser.get(page + "/")
    until(browser, "!!(window.AmplifyForTest && customElements.get('backup-codes-challenge'))")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#password-step button").click()


def answer(browser, code: str) -> None:
    browser.execute_script(
        f"const i = {CHALLENGE}.querySelector('input[name=code]'); i.value = arguments[0]; i.form.requestSubmit();",
        code,
    )


def no_violations(browser, state: str) -> None:
    """axe-core (npm, as `need_chromium` installs it) on the page, shadow roots included."""
    path = os.environ.get("AXE_CORE") or str(deployment.ROOT / ".tools/node/node_modules/axe-core/axe.min.js")
    browser.execute_script(Path(path).read_text())
    violations = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations"
        ".filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id + ': ' + v.help)));"
    )
    assert violations == [], f"axe-core, {state}: {violations}"
    print(f"axe-core {state}: no serious or critical violation")


def screenshot(browser, name: str) -> None:
    directory = deployment.ROOT / "target" / "ui-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(directory / f"{name}.png"))


def test_the_challenge_component_enrolls_and_signs_in_through_amplify(stack_with_created_pool, page, browser):
    user = Users(stack_with_created_pool).new("amp")

    # First sign-in of a pool that requires two-factor: the enrollment challenge, drawn from
    # the challenge's QR modules, and the secret for typing in.
    password_step(browser, page, user.username)
    until(browser, f"document.querySelector('backup-codes-challenge') && {CHALLENGE}.querySelector('.qr svg path')")
    heading = browser.execute_script(f"return {CHALLENGE}.querySelector('h2').textContent")
    assert heading == "Set up two-factor authentication"
    secret = browser.execute_script(f"return {CHALLENGE}.querySelector('.key').textContent").replace(" ", "")
    SEEN_SECRETS.add(secret)
    user.secret = secret
    no_violations(browser, "challenge enrollment")
    screenshot(browser, "challenge-enrollment")
    answer(browser, "000000")
    refused = until(browser, f"{CHALLENGE}.querySelector('[role=alert]').textContent")
    assert refused == "That code didn't work. Try again, or use a backup code.", refused
    no_violations(browser, "challenge refused")
    answer(browser, user.totp())
    until(browser, "window.signedInToken")
    assert until(browser, f"{CHALLENGE}.querySelector('[role=status]').textContent") == "Signed in."
    # The ID token said the app was set up at this sign-in, with no backup codes yet.
    assert browser.execute_script("return window.signedInDetail") == \
        {"method": "enrollment", "remaining_codes": 0, "low": True}
    assert "Two-factor is on: make your backup codes now" in \
        browser.execute_script(f"return {CHALLENGE}.textContent")

    # The settings card, served and answered by the deployed API, across origins.
    until(browser, f"document.querySelector('backup-codes-settings') && {SETTINGS}.textContent.includes('None')")
    no_violations(browser, "settings across origins")
    screenshot(browser, "challenge-then-settings")

    # The next sign-in asks for a code: a wrong one is refused, a right one signs in.
    password_step(browser, page, user.username)
    until(browser, f"document.querySelector('backup-codes-challenge') && {CHALLENGE}.querySelector('input[name=code]')")
    assert browser.execute_script(f"return {CHALLENGE}.querySelector('label').textContent") == \
        "A code from your authenticator app or a backup code"
    assert browser.execute_script(f"return {CHALLENGE}.querySelector('.qr')") is None
    no_violations(browser, "challenge code")
    screenshot(browser, "challenge-code")
    answer(browser, "123456")
    until(browser, f"{CHALLENGE}.querySelector('[role=alert]').textContent.includes(\"didn't work\")")
    answer(browser, user.totp())
    token = until(browser, "window.signedInToken")
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == user.sub
    assert claims["backup_codes:method"] == "totp"
    assert browser.execute_script("return window.signedInDetail")["method"] == "totp"

    # Expected: Cognito's and the API's refusals of the wrong codes, and Amplify's own warning
    # that it talks to a custom endpoint (the emulator; a team's page on AWS has none).
    logs = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")
            and not re.search(r"status of (400|401)", e["message"])
            and "ensure the endpoint is correct" not in e["message"]]
    assert not logs, logs


def press(browser, label: str) -> None:
    browser.execute_script(
        f"[...{CHALLENGE}.querySelectorAll('button')].find((b) => b.textContent === arguments[0]).click();",
        label,
    )


def test_the_challenge_asks_the_administrators_for_a_user_who_lost_everything(
        stack_with_created_pool, page, browser):
    user = Users(stack_with_created_pool).new("lost")
    assert user.custom_sign_in([user.first_code]), "enrolled at the first sign-in"

    # The phone and the codes are gone: after the password, the component asks instead.
    browser.execute_script("window.signedInToken = undefined;")
    password_step(browser, page, user.username)
    until(browser, f"document.querySelector('backup-codes-challenge') && {CHALLENGE}.querySelector('input[name=code]')")
    press(browser, "I have lost my phone and my backup codes")
    until(browser, f"{CHALLENGE}.textContent.includes('They check that it is really you')")
    no_violations(browser, "challenge lost everything")
    screenshot(browser, "challenge-lost-everything")
    press(browser, "Ask my administrators")
    asked = until(browser, f"{CHALLENGE}.querySelector('h2').textContent === 'Your administrators have been asked' && {CHALLENGE}.textContent")
    assert "We emailed you" in asked, asked
    assert until(browser, f"{CHALLENGE}.querySelector('[role=status]').textContent") == \
        "Your administrators have been asked"
    assert browser.execute_script("return window.signedInToken") is None, "no tokens for a request"
    no_violations(browser, "challenge asked")
    screenshot(browser, "challenge-asked")


def new_password_step(browser, password: str) -> None:
    from selenium.webdriver.common.by import By

    until(browser, "!document.getElementById('new-password-step').hidden")
    browser.find_element(By.ID, "new-password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#new-password-step button").click()


def test_a_temporary_password_is_changed_then_the_user_enrolls_and_signs_in(stack_with_created_pool, page, browser):
    stack = stack_with_created_pool
    idp = deployment.client("cognito-idp")
    user = Users(stack).new("temp", temporary=True)
    assert idp.admin_get_user(UserPoolId=stack.pool.id, Username=user.username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    # The first sign-in asks for a new password. Cognito then generates tokens without any
    # challenge: the guard refuses them (the pool requires two-factor), and the page signs in
    # again with the new password, which poses the authenticator's setup.
    password_step(browser, page, user.username)
    new_password_step(browser, "Chosen-Later-7-Staple")
    until(browser, f"document.querySelector('backup-codes-challenge') && {CHALLENGE}.querySelector('.key')")
    assert browser.execute_script("return window.newPasswordRefusal") == "UserLambdaValidationException"
    assert browser.execute_script("return window.signedInToken") is None, "no tokens before the code"
    user.secret = browser.execute_script(f"return {CHALLENGE}.querySelector('.key').textContent").replace(" ", "")
    SEEN_SECRETS.add(user.secret)
    answer(browser, user.totp())
    token = until(browser, "window.signedInToken")
    assert jwt_claims(token)["sub"] == user.sub
    assert idp.admin_get_user(UserPoolId=stack.pool.id, Username=user.username)["UserStatus"] == "CONFIRMED"

    # An administrator gives the enrolled user a temporary password again: setting a new one
    # still gets no tokens without a code, and the sign-in after it asks for one.
    idp.admin_set_user_password(UserPoolId=stack.pool.id, Username=user.username, Password=PASSWORD, Permanent=False)
    browser.execute_script("window.signedInToken = undefined; window.newPasswordRefusal = undefined;")
    password_step(browser, page, user.username)
    new_password_step(browser, "Chosen-Again-8-Staple")
    until(browser, f"document.querySelector('backup-codes-challenge') && {CHALLENGE}.querySelector('input[name=code]')")
    assert browser.execute_script("return window.newPasswordRefusal") == "UserLambdaValidationException"
    assert browser.execute_script(f"return {CHALLENGE}.querySelector('.key')") is None, "a code, not a setup"
    answer(browser, user.totp())
    assert jwt_claims(until(browser, "window.signedInToken"))["sub"] == user.sub


def test_the_api_answers_cors_for_each_listed_origin_only(stack_with_created_pool):
    url = stack_with_created_pool.api_url + "/v1/backup-codes"
    for allowed in (deployment.PAGE_ORIGIN, deployment.OTHER_ORIGIN):
        preflight = requests.options(url, headers={
            "Origin": allowed, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-otp",
        }, timeout=10)
        assert preflight.headers.get("Access-Control-Allow-Origin") == allowed, preflight.headers
        assert "x-otp" in preflight.headers.get("Access-Control-Allow-Headers", "").lower()
    foreign = requests.options(url, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
    }, timeout=10)
    assert foreign.headers.get("Access-Control-Allow-Origin") in (None, ""), foreign.headers
    # The pending set's id is readable by the page: a regenerate answered as a file names it.
    simple = requests.get(stack_with_created_pool.api_url + "/v1/ui/backup-codes.js",
                          headers={"Origin": deployment.PAGE_ORIGIN}, timeout=10)
    assert simple.status_code == 200
    assert simple.headers.get("Access-Control-Allow-Origin") == deployment.PAGE_ORIGIN
    assert "x-backup-codes-set-id" in simple.headers.get("Access-Control-Expose-Headers", "").lower()
