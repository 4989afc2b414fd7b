"""Fixtures for the deployed-stack tests: the stack deployed once per run, users signed in
through the emulated Cognito with SRP, and a client for the emulated API Gateway that times
every request by the function behind its route."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pyotp
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cognito_flows import Answer, custom_sign_in

import stack as deployment

PASSWORD = "Correct-Horse-9-Battery"


DEPLOYED: list[deployment.Stack] = []
# Every plaintext secret the walk saw (backup codes, TOTP secrets, link tokens): none may appear
# in the functions' logs.
SEEN_SECRETS: set[str] = set()


@pytest.fixture(scope="session")
def stack() -> deployment.Stack:
    if "MINISTACK_URL" not in os.environ:
        pytest.fail("MINISTACK_URL is not set: run through infra/test.sh or infra/deployed.sh")
    DEPLOYED.append(deployment.deploy())
    return DEPLOYED[0]


@pytest.fixture(scope="session")
def stack_with_created_pool(stack) -> deployment.Stack:
    """A second stack beside the first, deployed with CreateUserPool=true."""
    created = deployment.deploy_with_created_pool("backup-codes-with-pool")
    DEPLOYED.append(created)
    return created


class Timings:
    """Seconds per request, by the function that served it, in the order they ran."""

    def __init__(self) -> None:
        self.by_function: dict[str, list[float]] = defaultdict(list)

    def add(self, function: str, seconds: float) -> None:
        self.by_function[function].append(seconds)

    def report(self, what: str = "function") -> list[str]:
        lines = [f"{what:<24} {'first request':>14} {'warm median':>12} {'warm p95':>9} {'n':>4}"]
        for function, runs in sorted(self.by_function.items()):
            warm = sorted(runs[1:])
            median = f"{statistics.median(warm) * 1000:9.1f} ms" if warm else "-"
            # Nearest rank: the smallest value at or above 95 % of the runs.
            p95 = f"{warm[math.ceil(0.95 * len(warm)) - 1] * 1000:6.1f} ms" if warm else "-"
            lines.append(f"{function:<24} {runs[0] * 1000:11.1f} ms {median:>12} {p95:>9} {len(runs):>4}")
        return lines


TIMINGS = Timings()
# Cognito's sign-in calls, by the trigger invocations each makes inside the emulator.
SIGN_IN_TIMINGS = Timings()


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS.by_function:
        terminalreporter.section("latency through the emulated API Gateway (reported, not asserted)")
        for line in TIMINGS.report():
            terminalreporter.write_line(line)
    if SIGN_IN_TIMINGS.by_function:
        terminalreporter.section("Cognito sign-in calls, triggers included (reported, not asserted)")
        for line in SIGN_IN_TIMINGS.report("Cognito call: triggers"):
            terminalreporter.write_line(line)
    for deployed in DEPLOYED:
        terminalreporter.section(f"{deployed.name}: each function's own Duration, from its REPORT log lines")
        for line in reported_durations(deployed).report():
            terminalreporter.write_line(line)


def reported_durations(stack: deployment.Stack) -> Timings:
    durations = Timings()
    for function, lines in function_logs(stack).items():
        for line in lines:
            if match := re.match(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms", line):
                durations.add(function, float(match.group(1)) / 1000)
    return durations


def function_logs(stack: deployment.Stack) -> dict[str, list[str]]:
    """Every line each function logged, from the log group the template gives it."""
    logs = deployment.client("logs")
    lines = {}
    for function, group in stack.log_groups.items():
        events, token = [], None
        while True:
            page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        lines[function] = [e["message"] for e in sorted(events, key=lambda e: e["timestamp"])]
    return lines


@dataclass
class Response:
    status: int
    body: dict | str
    headers: dict

    @property
    def json(self) -> dict:
        assert isinstance(self.body, dict), f"not JSON: {self.body!r}"
        return self.body


class Api:
    """Requests to the deployed API at the emulator's execute-api URL."""

    def __init__(self, stack: deployment.Stack) -> None:
        self.stack = stack
        self.routes = deployment.routes(deployment.template())
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, payload=None, headers=None,
             data: bytes | None = None, signed: bool = False) -> Response:
        url = self.stack.api_url + path
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = data
        if payload is not None:
            body = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        if signed:
            headers = sigv4(method, url, body, headers)
        started = time.perf_counter()
        r = self.http.request(method, url, data=body, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        function = self.function_of(method, path)
        if function and not is_gateway_answer(r):
            TIMINGS.add(function, elapsed)
        try:
            parsed = r.json()
        except ValueError:
            parsed = r.text
        return Response(r.status_code, parsed, dict(r.headers))

    def function_of(self, method: str, path: str) -> str | None:
        path = path.split("?")[0]
        for (route_method, pattern), function in self.routes.items():
            if route_method == method and deployment.path_matches(pattern, path):
                return function
        return None


def is_gateway_answer(r: requests.Response) -> bool:
    """API Gateway's own refusals ({"message": ...}) never reached a function."""
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and set(body) == {"message"}


def sigv4(method: str, url: str, body: bytes | None, headers: dict) -> dict:
    """Signs as an auth server with an IAM role would (execute-api, SigV4)."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(Credentials("test", "test"), "execute-api", deployment.REGION).add_auth(request)
    return dict(request.headers.items())


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack)


@dataclass
class User:
    """A Cognito user of the pool the API trusts, with their TOTP as their phone holds it."""

    username: str
    sub: str
    client_id: str
    pool_id: str
    secret: str | None = None
    last_step: int = -1
    codes: list[str] = field(default_factory=list)

    tokens: dict[str, str] = field(default_factory=dict)  # client id -> a live ID token

    def sign_in(self, client_id: str | None = None) -> str:
        """The user's ID token, from a sign-in as the user makes it: the custom flow, with the
        password by SRP and then, once enrolled, a code from the app. A token still live is
        reused, as an app keeps its session: each sign-in spends a TOTP step."""
        client_id = client_id or self.client_id
        cached = self.tokens.get(client_id)
        if cached and jwt_claims(cached)["exp"] > time.time() + 5:
            return cached
        answers = [lambda _challenge: self.totp()] if self.secret else []
        tokens = self.custom_sign_in(answers, client_id)
        assert tokens, f"{self.username} could not sign in"
        self.tokens[client_id] = tokens["IdToken"]
        return tokens["IdToken"]

    def custom_sign_in(self, answers: list[Answer], client_id: str | None = None,
                       challenges: list[dict] | None = None) -> dict | None:
        """The custom flow with these answers: the tokens, or None."""
        return custom_sign_in(
            deployment.client("cognito-idp"), self.username, PASSWORD, self.pool_id,
            client_id or self.client_id, answers, challenges=challenges, timed=timed,
        )

    def first_code(self, challenge: dict) -> str:
        """Answers the enrollment challenge as a user does: adds the secret to the app (it is
        in the QR's otpauth URI too) and types the first code."""
        assert challenge["type"] == "TOTP_ENROLLMENT", challenge
        assert pyotp.parse_uri(challenge["otpauth_uri"]).secret == challenge["secret"], challenge
        self.secret = challenge["secret"]
        SEEN_SECRETS.add(self.secret)
        return self.totp()

    def totp(self) -> str:
        """A code the service has not seen from this user: TOTP codes are single use, so each
        proof takes a later 30 s step, within the one step of skew the service allows."""
        totp = pyotp.TOTP(self.secret)
        now = int(time.time()) // 30
        step = max(now - 1, self.last_step + 1)
        if step > now + 1:
            time.sleep(30 - time.time() % 30 + 0.2)
            return self.totp()
        self.last_step = step
        return totp.at(step * 30)


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def timed(call: str, request, **kwargs) -> dict:
    """A Cognito call, its time reported by the triggers it runs."""
    started = time.perf_counter()
    try:
        return request(**kwargs)
    finally:
        SIGN_IN_TIMINGS.add(call, time.perf_counter() - started)


class Users:
    def __init__(self, stack: deployment.Stack) -> None:
        self.stack = stack
        self.count = 0

    def new(self, name: str, admin: bool = False, temporary: bool = False) -> User:
        """A new user; with `temporary`, PASSWORD is a temporary one they must change."""
        self.count += 1
        username = f"{name}-{self.count}-{int(time.time())}@example.com"
        pool = self.stack.pool
        sub = deployment.create_user(pool, username, PASSWORD, admin, temporary)
        return User(username, sub, pool.client_id, pool.id)


@pytest.fixture(scope="session")
def users(stack) -> Users:
    return Users(stack)


def enroll(api: Api, user: User, token: str | None = None) -> User:
    """Enrollment as the user's app does it: start, scan, confirm with a code."""
    token = token or user.sign_in()
    started = api.call("POST", "/v1/totp/enrollment", token=token)
    assert started.status == 201, started
    user.secret = pyotp.parse_uri(started.json["otpauth_uri"]).secret
    confirmed = api.call("POST", "/v1/totp/enrollment/confirm", token=token, payload={"code": user.totp()})
    assert confirmed.status == 200, confirmed
    user.codes = confirmed.json["backup_codes"]
    SEEN_SECRETS.update([user.secret, *user.codes])
    return user
