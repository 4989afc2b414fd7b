"""template.yaml deployed to the emulated AWS, walked as a team and its users would walk it on
AWS: through API Gateway's JWT authorizer and IAM auth, with Cognito's signed ID tokens, the
functions reading their generated keys from Secrets Manager, and the mail leaving through SES."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import SEEN_SECRETS, Api, User, Users, enroll, function_logs

import stack as deployment


def verify(api: Api, user: User, code: str, signed: bool = True):
    """The team's auth server asking, with its IAM role's SigV4 signature."""
    return api.call("POST", "/v1/verify", payload={"user_id": user.sub, "code": code}, signed=signed)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def tampered(token: str) -> str:
    """The same token claiming another subject: its RS256 signature no longer matches."""
    header, _, signature = token.split(".")
    forged = dict(claims(token), sub="someone-else")
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


UNAUTHORIZED = {"message": "Unauthorized"}


def test_the_jwt_authorizer_refuses_bad_tokens_before_any_function_runs(api: Api, users: Users, stack):
    user = users.new("ann")
    fresh = user.sign_in()
    short_lived = user.sign_in(stack.pool.short_lived_client_id)
    # Both audiences reach the function while their tokens are fresh ...
    assert api.call("GET", "/v1/audit", token=fresh).status == 200
    assert api.call("GET", "/v1/audit", token=short_lived).status == 200
    # ... and the short-lived one expires.
    time.sleep(max(0, claims(short_lived)["exp"] - time.time()) + 1.1)
    bad = {
        "missing": None,
        "malformed": "not-a-jwt",
        "tampered": tampered(fresh),
        "expired": short_lived,
        "wrong audience": user.sign_in(stack.pool.other_client_id),
    }
    jwt_routes = [
        (method, path.replace("{user_id}", user.sub))
        for (method, path), _ in api.routes.items()
        if deployment.route_authorizer(deployment.template(), method, path) == "Jwt"
    ]
    assert len(jwt_routes) >= 8, jwt_routes
    for method, path in jwt_routes:
        for what, token in bad.items():
            refused = api.call(method, path, token=token, payload={"totp": "123456"})
            # API Gateway's own body: the functions answer {"error", "message"}, never this.
            assert (refused.status, refused.body) == (401, UNAUTHORIZED), f"{what} token, {method} {path}: {refused}"


def test_a_user_enrolls_verifies_regenerates_and_deletes_through_the_api(api: Api, users: Users):
    user = enroll(api, users.new("bob"))
    assert len(user.codes) == 10
    token = user.sign_in()

    first = verify(api, user, user.codes[0])
    assert (first.status, first.json) == (
        200,
        {"valid": True, "method": "backup_code", "remaining_backup_codes": 9, "low": False},
    )
    again = verify(api, user, user.codes[0])
    assert (again.status, again.json["error"]) == (401, "invalid_code")
    by_totp = verify(api, user, user.totp())
    assert (by_totp.status, by_totp.json["method"]) == (200, "totp")

    status = api.call("GET", "/v1/backup-codes", token=token)
    assert status.status == 200
    assert (status.json["total"], status.json["remaining"], len(status.json["used"])) == (10, 9, 1)

    regenerated = api.call("POST", "/v1/backup-codes", token=token, headers={"X-OTP": user.totp()})
    assert regenerated.status == 201, regenerated
    new_codes = regenerated.json["backup_codes"]
    SEEN_SECRETS.update(new_codes)
    assert verify(api, user, new_codes[0]).status == 401, "pending until activated"
    assert verify(api, user, user.codes[1]).status == 200, "the old set works until then"
    activated = api.call("POST", "/v1/backup-codes/activate", token=token,
                         payload={"set_id": regenerated.json["set_id"]})
    assert activated.status == 200, activated
    assert verify(api, user, user.codes[2]).status == 401, "the old set stopped working"
    assert verify(api, user, new_codes[0]).status == 200

    deleted = api.call("DELETE", "/v1/backup-codes", token=token, payload={"totp": user.totp()})
    assert deleted.status == 204, deleted
    assert verify(api, user, new_codes[1]).status == 401
    gone = api.call("GET", "/v1/backup-codes", token=token).json
    assert (gone["total"], gone["remaining"]) == (0, 0)


def test_verify_refuses_a_request_without_a_signature(api: Api, users: Users):
    user = enroll(api, users.new("cy"))
    unsigned = verify(api, user, user.codes[0], signed=False)
    assert (unsigned.status, unsigned.body) == (403, {"message": "Forbidden"})
    assert verify(api, user, user.codes[0]).status == 200, "the refused request used nothing up"


@pytest.mark.xfail(
    strict=True,
    reason="emulator gap: ministack checks SigV4 signatures only with AUTH=true, and with "
    "AUTH=true the template's Ref of a secret (a name there, an ARN on AWS) fails the "
    "functions' own secretsmanager:GetSecretValue. A forged signature reaches the function.",
)
def test_verify_refuses_a_forged_signature(api: Api, users: Users):
    user = enroll(api, users.new("dee"))
    forged = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/"
              "execute-api/aws4_request, SignedHeaders=host, Signature=" + "0" * 64}
    refused = api.call("POST", "/v1/verify", payload={"user_id": user.sub, "code": user.codes[0]},
                       headers=forged)
    assert refused.status == 403


def test_one_backup_code_sent_ten_times_at_once_is_accepted_once(api: Api, users: Users):
    user = enroll(api, users.new("eve"))
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: verify(api, user, user.codes[0]).status, range(10)))
    assert sorted(statuses) == [200] + [401] * 9, statuses


def mail_to(user: User) -> list[dict]:
    """What the emulator's SES accepted for the user, oldest first."""
    data = requests.get(os.environ["MINISTACK_URL"] + "/_ministack/ses/messages", timeout=10).json()
    return [m for by_account in data["messages"].values() for m in by_account if user.username in m["To"]]


def reset_mail(user: User, after: int) -> tuple[str, str]:
    """The subject and the download link of the first mail to the user after the first `after`."""
    deadline = time.monotonic() + 10
    while len(mails := mail_to(user)) <= after:
        assert time.monotonic() < deadline, f"no mail to {user.username} after {after}"
        time.sleep(0.2)
    mail = mails[after]
    link = re.search(r"https://\S+/v1/backup-codes/download#token=\S+", mail["BodyText"])
    assert link, mail["BodyText"]
    return mail["Subject"], link.group(0)


def reachable(link: str, stack: deployment.Stack) -> str:
    """Emulator gap: the link names the API's own domain, as API Gateway reports it to the
    function ({api}.execute-api.<host>, https); the emulator serves that API at a path of its
    one port instead. Same path and fragment, reachable origin."""
    origin = re.match(r"https://[^/]+", link).group(0)
    assert origin.startswith(f"https://{stack.api_id}.execute-api."), link
    return stack.api_url + link[len(origin):]


def token_of(link: str) -> str:
    token = link.split("#token=", 1)[1]
    SEEN_SECRETS.add(token)
    return token


def test_an_admin_reset_mails_a_link_whose_codes_count_once_saved(api: Api, users: Users, stack):
    admin = enroll(api, users.new("root", admin=True))
    user = enroll(api, users.new("fay"))
    before = len(mail_to(user))

    reset = api.call("POST", f"/v1/admin/users/{user.sub}/backup-codes", token=admin.sign_in(),
                     headers={"X-OTP": admin.totp()})
    assert (reset.status, reset.json["status"]) == (202, "email_sent"), reset
    assert verify(api, user, user.codes[0]).status == 401, "the old codes died at once"

    subject, link = reset_mail(user, before)
    assert "backup codes" in subject.lower(), subject
    page = api.call("GET", "/v1/backup-codes/download")
    assert page.status == 200 and "Continue" in page.body

    redeemed = api.call("POST", "/v1/backup-codes/download", payload={"token": token_of(link)})
    assert redeemed.status == 200, redeemed
    codes = redeemed.json["backup_codes"]
    SEEN_SECRETS.update(codes)
    assert len(codes) == 10
    assert verify(api, user, codes[0]).status == 401, "shown codes count once saved"
    saved = api.call("POST", "/v1/backup-codes/download/activate",
                     payload={"token": token_of(link), "set_id": redeemed.json["set_id"]})
    assert (saved.status, saved.json["remaining"]) == (200, 10), saved
    again = api.call("POST", "/v1/backup-codes/download", payload={"token": token_of(link)})
    assert (again.status, again.json["error"]) == (410, "link_invalid")
    assert verify(api, user, codes[0]).status == 200
    assert verify(api, user, user.codes[1]).status == 401

    # A non-admin with a valid token is refused by the function, not the gateway.
    not_admin = api.call("POST", f"/v1/admin/users/{admin.sub}/backup-codes", token=user.sign_in(),
                         headers={"X-OTP": "123456"})
    assert (not_admin.status, not_admin.json["error"]) == (403, "forbidden")

    trail = api.call("GET", f"/v1/admin/users/{user.sub}/audit", token=admin.sign_in())
    assert trail.status == 200, trail
    events = {e["type"]: e for e in trail.json["events"]}
    assert events["codes_reset_by_admin"]["actor"] == f"admin:{admin.sub}", events
    assert "download_link_redeemed" in events, events


def test_a_person_redeems_the_link_in_chromium_through_the_api(api: Api, users: Users, stack, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    admin = enroll(api, users.new("root", admin=True))
    user = enroll(api, users.new("gus"))
    before = len(mail_to(user))
    reset = api.call("POST", f"/v1/admin/users/{user.sub}/backup-codes", token=admin.sign_in(),
                     headers={"X-OTP": admin.totp()})
    assert reset.status == 202, reset
    _, link = reset_mail(user, before)
    token_of(link)

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(reachable(link, stack))
        assert "An administrator reset the backup codes" in browser.find_element(By.TAG_NAME, "main").text
        browser.find_element(By.ID, "continue").click()
        WebDriverWait(browser, 15).until(lambda b: b.find_elements(By.ID, "codes"))
        assert "token=" not in browser.current_url, "the token left the address bar"
        shown = browser.find_element(By.ID, "codes").text.split()
        SEEN_SECRETS.update(shown)
        assert len(shown) == 10, shown
        browser.find_element(By.ID, "download").click()
        saved = downloads / "backup-codes.txt"
        WebDriverWait(browser, 15).until(lambda _: saved.is_file() and saved.stat().st_size > 0)
        lines = saved.read_text().splitlines()
        assert all(code in lines for code in shown), lines
        assert verify(api, user, shown[0]).status == 401, "shown codes count once saved"
        browser.find_element(By.XPATH, "//button[normalize-space()='I have saved these codes']").click()
        WebDriverWait(browser, 15).until(
            lambda b: "now active" in b.find_element(By.TAG_NAME, "h1").text)
    finally:
        browser.quit()
    assert verify(api, user, shown[0]).status == 200
    assert verify(api, user, user.codes[0]).status == 401


def test_warm_requests_to_every_function(api: Api, users: Users):
    """Latency figures for the note (reported by the summary, not asserted): a few harmless
    requests per function after its first."""
    user = enroll(api, users.new("hal"))
    token = user.sign_in()
    for _ in range(10):
        assert api.call("GET", "/v1/backup-codes", token=token).status == 200
        assert api.call("GET", "/v1/audit", token=token).status == 200
        # Enrolled: starting again is replacing the authenticator, which needs a proof.
        assert api.call("POST", "/v1/totp/enrollment", token=token).status == 401
        assert api.call("GET", "/v1/backup-codes/download").status == 200
        unknown = api.call("POST", "/v1/verify", payload={"user_id": "nobody", "code": "12345678"},
                           signed=True)
        assert unknown.status == 401
        not_admin = api.call("POST", f"/v1/admin/users/{user.sub}/backup-codes", token=token)
        assert not_admin.status == 403


def test_no_function_logged_a_code_a_totp_secret_or_a_link_token(stack):
    """Runs after the walk: every line every function logged, against every secret it saw."""
    assert len(SEEN_SECRETS) > 50, "the walk above ran first and saw codes, secrets and tokens"
    logs = function_logs(stack)
    assert sum(len(lines) for lines in logs.values()) > 100, "the functions' logs were read"
    for function, lines in logs.items():
        text = "\n".join(lines)
        leaked = sorted(secret for secret in SEEN_SECRETS if secret in text)
        assert not leaked, f"{function} logged {len(leaked)} secrets"


@pytest.mark.xfail(
    strict=True,
    reason="emulator gap: ministack keeps the template's LoggingConfig (LogFormat: JSON) but does "
    "not set AWS_LAMBDA_LOG_FORMAT=JSON in the function's environment as Lambda does, so the "
    "runtime's subscriber writes text lines.",
)
def test_the_functions_log_json_as_the_template_asks(stack):
    logs = function_logs(stack)
    ours = [line for lines in logs.values() for line in lines
            if not line.startswith(("START RequestId", "END RequestId", "REPORT RequestId"))]
    assert ours, "the functions logged something"
    for line in ours:
        json.loads(line)
