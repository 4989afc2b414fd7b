"""Deploys template.yaml, unchanged, to ministack (an emulated AWS on loopback) the way a team
deploys it to AWS: the packaged zips uploaded as `sam package` uploads them, then CloudFormation
with the SAM transform. Where the emulator differs from AWS, the workaround is here, in the
harness, with a comment; the template stays as AWS wants it.

    python tests/deployed/stack.py    # deploy to $MINISTACK_URL and print how to reach it
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

# The SAM translator (also what CloudFormation runs for the transform) parses the template's
# short-form intrinsics (!Ref, !Sub, ...) into their long form.
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PACKAGES = ROOT / "target" / "lambda"
STACK_NAME = "backup-codes"
ARTIFACT_BUCKET = "backup-codes-artifacts"
SENDER = "no-reply@example.com"
# The created-pool stack's LinkBaseUrl: the address its mailed links name.
LINK_BASE_URL = "https://codes.example.com"
# The team's own event bus, and the queue a rule on it fills: what the team's tools would read.
EVENT_BUS = "backup-codes-team-bus"
BUS_QUEUE = "backup-codes-bus-events"
ADMIN_GROUP = "backup-codes-admins"
REGION = "us-east-1"
# The origin of the test's sign-in page (tests/deployed/challenge_page), a team's own site: the
# created pool's stack lists it in CorsOrigin beside another, as a team lists its apps.
PAGE_ORIGIN = f"http://127.0.0.1:{os.environ.get('CHALLENGE_PAGE_PORT', '8431')}"
OTHER_ORIGIN = "https://admin.example.com"


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=os.environ["MINISTACK_URL"],
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


@dataclass
class UserPool:
    arn: str
    id: str
    client_id: str  # the web app's client: the API's audience
    short_lived_client_id: str  # also in the audience; its ID tokens expire in seconds
    other_client_id: str  # another app's client of the same pool: not in the audience

    @property
    def audience(self) -> str:
        return f"{self.client_id},{self.short_lived_client_id}"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.id}"


@dataclass
class Stack:
    name: str
    api_id: str
    pool: UserPool | None
    outputs: dict[str, str]
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    log_groups: dict[str, str] = field(default_factory=dict)  # logical id -> its log group

    @property
    def api_url(self) -> str:
        # ministack serves every HTTP API at this path of its one port (the LocalStack form);
        # on AWS it is the ApiUrl output, https://{api}.execute-api.{region}.amazonaws.com.
        return f"{os.environ['MINISTACK_URL']}/_aws/execute-api/{self.api_id}/$default"


def template() -> dict:
    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))


def serverless_functions(tpl: dict) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in tpl["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def package(tpl: dict) -> dict:
    """What `sam package` does: upload each function's zip (built by infra/package.sh, named by
    the template's own cargo-lambda Binary) and point its CodeUri at the uploaded object."""
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    for resource in serverless_functions(tpl).values():
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        key = f"{binary}/bootstrap.zip"
        zip_path = PACKAGES / binary / "bootstrap.zip"
        if not zip_path.is_file():
            sys.exit(f"{zip_path} is missing: run `bash infra/package.sh` first")
        s3.upload_file(str(zip_path), ARTIFACT_BUCKET, key)
        resource["Properties"]["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{key}"
    tpl["Globals"]["Function"].pop("CodeUri", None)
    return tpl


def create_user_pool() -> UserPool:
    """The identity provider a team points the API at: a pool, its app clients and the admin
    group. Its clients allow password-only flows too, as many existing pools' clients do: the
    token guard must hold against them."""
    idp = client("cognito-idp")
    pool = idp.create_user_pool(PoolName="backup-codes-users", AutoVerifiedAttributes=["email"])
    pool_id, pool_arn = pool["UserPool"]["Id"], pool["UserPool"]["Arn"]

    def app_client(name: str, **validity) -> str:
        return idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH",
                               "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
            **validity,
        )["UserPoolClient"]["ClientId"]

    web = app_client("backup-codes-web")
    # Emulator leniency, used on purpose: AWS's shortest ID-token validity is 5 minutes, the
    # emulator accepts 2 seconds, so the test sees a token of the API's audience expire.
    short_lived = app_client(
        "short-lived", IdTokenValidity=2, TokenValidityUnits={"IdToken": "seconds"}
    )
    other = app_client("another-app")
    idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP)
    return UserPool(pool_arn, pool_id, web, short_lived, other)


def deploy() -> Stack:
    """The stack as a team with a pool deploys it: CognitoUserPoolArn names their pool, whose
    settings are then read and sent back with the triggers attached (the README's steps)."""
    pool = create_user_pool()
    create_bus_with_queue()
    stack = deploy_stack(STACK_NAME, {
        "JwtIssuer": pool.issuer,
        "JwtAudience": pool.audience,
        "SenderAddress": SENDER,
        "CognitoUserPoolArn": pool.arn,
        "EventBusName": EVENT_BUS,
    }, pool)
    attach_triggers(pool, stack.outputs["CognitoChallengeFunctionArn"])
    return stack


def create_bus_with_queue() -> str:
    """The bus a team names in EventBusName, with a rule that sends every backup-codes event to
    a queue. Answers the queue's URL."""
    events, sqs = client("events"), client("sqs")
    events.create_event_bus(Name=EVENT_BUS)
    url = sqs.create_queue(QueueName=BUS_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="backup-codes-to-queue", EventBusName=EVENT_BUS,
                    EventPattern=json.dumps({"source": ["backup-codes"]}))
    events.put_targets(Rule="backup-codes-to-queue", EventBusName=EVENT_BUS,
                       Targets=[{"Id": "queue", "Arn": arn}])
    return url


def deploy_with_created_pool(stack_name: str) -> Stack:
    """The stack as a team without a pool deploys it: CreateUserPool=true with two-factor
    required (UnenrolledUsers=require), nothing else about identity; the template's pool, app
    client, admin group, triggers and token guard are what gets tested."""
    stack = deploy_stack(
        stack_name,
        {"CreateUserPool": "true", "UnenrolledUsers": "require", "SenderAddress": SENDER,
         "CorsOrigin": f"{PAGE_ORIGIN},{OTHER_ORIGIN}",
         # A trigger cannot name the API that names its pool, so the team gives the links'
         # address (its custom domain) for a recovery request filed at sign-in; no wait, so a
         # test can approve at once (the suite holds the wait).
         "LinkBaseUrl": LINK_BASE_URL, "RecoveryWaitHours": "0"},
        None,
    )
    idp = client("cognito-idp")
    described = idp.describe_user_pool(UserPoolId=stack.outputs["UserPoolId"])["UserPool"]
    client_id = stack.outputs["UserPoolClientId"]
    stack.pool = UserPool(described["Arn"], described["Id"], client_id, client_id, client_id)
    return stack


def deploy_stack(name: str, parameters: dict[str, str], pool: UserPool | None) -> Stack:
    client("ses").verify_email_identity(EmailAddress=SENDER)
    tpl = package(template())
    cfn = client("cloudformation")
    # As `sam deploy` does: the packaged template from S3 (up to 1 MB there), since one sent
    # in the request may be at most 51,200 bytes, which this one is past.
    key = f"{name}/template.json"
    client("s3").put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=json.dumps(tpl).encode())
    cfn.create_stack(
        StackName=name,
        TemplateURL=f"https://s3.amazonaws.com/{ARTIFACT_BUCKET}/{key}",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    status = wait_for_stack(cfn, name)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
            for e in events
            if "FAILED" in e["ResourceStatus"]
        ]
        sys.exit(f"stack {status}:\n" + "\n".join(reasons))
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    resources = {
        r["LogicalResourceId"]: r
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    api_id = resources["Api"]["PhysicalResourceId"]
    functions = {
        logical: resources[logical]["PhysicalResourceId"] for logical in serverless_functions(tpl)
    }
    log_groups = {
        logical: resources[resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]["PhysicalResourceId"]
        for logical, resource in serverless_functions(tpl).items()
    }
    stack = Stack(
        name=name, api_id=api_id, pool=pool, outputs=outputs, functions=functions, log_groups=log_groups
    )
    put_documented_keys(tpl, resources)
    refs = {
        **parameters,
        "AWS::Region": REGION,
        **{logical: r["PhysicalResourceId"] for logical, r in resources.items()},
    }
    create_routes(tpl, stack, refs)
    apply_cors(tpl, stack, refs)
    return stack


def apply_cors(tpl: dict, stack: Stack, refs: dict[str, str]) -> None:
    """Emulator gap, as for the routes: the SAM transform puts the HTTP API's CORS settings in
    the OpenAPI Body, which ministack ignores. Set the template's CorsConfiguration, resolved
    with this stack's parameters, through the apigatewayv2 API (ministack then answers
    preflights and adds the headers as API Gateway does)."""
    cors = tpl["Resources"]["Api"]["Properties"]["CorsConfiguration"]
    condition, then, _ = cors["Fn::If"]
    if not holds(tpl["Conditions"][condition], refs):
        return
    listed = lambda value: [v for v in str(resolve(value, refs)).split(",") if v]
    client("apigatewayv2").update_api(ApiId=stack.api_id, CorsConfiguration={
        "AllowOrigins": listed(then["AllowOrigins"]),
        "AllowHeaders": then["AllowHeaders"],
        "AllowMethods": then["AllowMethods"],
        "ExposeHeaders": then["ExposeHeaders"],
        "MaxAge": then["MaxAge"],
    })


def attach_triggers(pool: UserPool, function_arn: str) -> None:
    """The README's wiring of an existing pool: UpdateUserPool resets every setting it is not
    given, so the pool's settings are read first and sent back with the triggers (the custom
    challenge and the token guard) added."""
    idp = client("cognito-idp")
    current = idp.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    updatable = idp.meta.service_model.operation_model("UpdateUserPool").input_shape.members
    # The emulator describes unset messages as "" (AWS leaves them out), which UpdateUserPool
    # refuses: send back only what is set.
    settings = {
        k: v for k, v in current.items() if k in updatable and k != "UserPoolId" and v != ""
    }
    settings["LambdaConfig"] = {
        **current.get("LambdaConfig", {}),
        "DefineAuthChallenge": function_arn,
        "CreateAuthChallenge": function_arn,
        "VerifyAuthChallengeResponse": function_arn,
        "PreTokenGeneration": function_arn,
    }
    idp.update_user_pool(UserPoolId=pool.id, **settings)


def put_documented_keys(tpl: dict, resources: dict) -> None:
    """Emulator gap: ministack's GenerateSecretString ignores ExcludePunctuation, so its keys
    hold punctuation that AWS never generates for this template. Put what AWS would have
    generated (PasswordLength alphanumerics), so the functions read keys of the documented form.
    (They would also read the emulator's: any strong secret string is stretched with HKDF.)"""
    sm = client("secretsmanager")
    alphabet = string.ascii_letters + string.digits
    for name, resource in tpl["Resources"].items():
        generate = resource.get("Properties", {}).get("GenerateSecretString")
        if resource["Type"] != "AWS::SecretsManager::Secret" or not generate:
            continue
        assert generate.get("ExcludePunctuation"), f"{name}: the workaround assumes alphanumerics"
        key = "".join(secrets.choice(alphabet) for _ in range(generate["PasswordLength"]))
        sm.put_secret_value(SecretId=resources[name]["PhysicalResourceId"], SecretString=key)


def create_routes(tpl: dict, stack: Stack, refs: dict[str, str]) -> None:
    """Emulator gap: ministack ignores an HTTP API's OpenAPI Body, which is where the SAM
    transform puts the routes, the JWT authorizer and the integrations; the API it creates has
    none. Create them through the apigatewayv2 API as AWS would import them, derived from the
    template's own function events and the Api's Auth, so a route added to the template is a
    route tested here."""
    api = client("apigatewayv2")
    auth = tpl["Resources"]["Api"]["Properties"]["Auth"]
    authorizers = {}
    for name, config in auth["Authorizers"].items():
        jwt = config["JwtConfiguration"]
        authorizers[name] = api.create_authorizer(
            ApiId=stack.api_id,
            Name=name,
            AuthorizerType="JWT",
            IdentitySource=[config["IdentitySource"]],
            JwtConfiguration={
                "Issuer": resolve(jwt["issuer"], refs),
                "Audience": resolve(jwt["audience"], refs).split(","),
            },
        )["AuthorizerId"]
    integrations = {}
    for function, props in http_api_events(tpl):
        if function not in integrations:
            integrations[function] = api.create_integration(
                ApiId=stack.api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=stack.outputs[f"{function}Arn"],
                PayloadFormatVersion="2.0",
            )["IntegrationId"]
        authorizer = route_authorizer(tpl, props["Method"], props["Path"])
        route = {"ApiId": stack.api_id, "RouteKey": f"{props['Method']} {props['Path']}"}
        if authorizer in ("NONE", "AWS_IAM"):
            route["AuthorizationType"] = authorizer
        else:
            route["AuthorizationType"] = "JWT"
            route["AuthorizerId"] = authorizers[authorizer]
        api.create_route(Target=f"integrations/{integrations[function]}", **route)


def http_api_events(tpl: dict):
    """(function logical id, event properties) for every HttpApi event in the template."""
    for name, resource in serverless_functions(tpl).items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                yield name, event["Properties"]


def routes(tpl: dict) -> dict[tuple[str, str], str]:
    """(method, path) -> the function serving it."""
    return {(props["Method"], props["Path"]): name for name, props in http_api_events(tpl)}


def route_authorizer(tpl: dict, method: str, path: str) -> str:
    """The authorizer a route declares, or the Api's default."""
    default = tpl["Resources"]["Api"]["Properties"]["Auth"]["DefaultAuthorizer"]
    for _, props in http_api_events(tpl):
        if (props["Method"], props["Path"]) == (method, path):
            return props.get("Auth", {}).get("Authorizer", default)
    raise KeyError(f"{method} {path}")


def path_matches(pattern: str, path: str) -> bool:
    wanted, actual = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(wanted) == len(actual) and all(
        w == a or (w.startswith("{") and w.endswith("}") and a) for w, a in zip(wanted, actual)
    )


def resolve(value, refs: dict[str, str]):
    """A template value made of literals, Refs (to parameters, defaults included, or to the
    deployed resources and pseudo parameters in `refs`), Fn::Sub of those, and Fn::If on the
    template's conditions."""
    tpl = template()
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        return refs[name] if name in refs else tpl["Parameters"][name].get("Default")
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: resolve({"Ref": m.group(1)}, refs), value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        resolved = resolve(parts, refs)
        return separator.join(resolved.split(",") if isinstance(resolved, str) else resolved)
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, then, otherwise = value["Fn::If"]
        chosen = then if holds(tpl["Conditions"][condition], refs) else otherwise
        return resolve(chosen, refs)
    if isinstance(value, list):
        return ",".join(resolve(v, refs) for v in value)
    assert isinstance(value, str), f"cannot resolve {value!r} offline"
    return value


def holds(condition: dict, refs: dict[str, str]) -> bool:
    (function, args), = condition.items()
    if function == "Fn::Equals":
        return resolve(args[0], refs) == resolve(args[1], refs)
    if function == "Fn::Not":
        return not holds(args[0], refs)
    raise AssertionError(f"cannot evaluate {condition!r} offline")


def wait_for_stack(cfn, name: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.5)
    return "TIMED_OUT"


def create_user(pool: UserPool, username: str, password: str, admin: bool, temporary: bool = False) -> str:
    """A confirmed user of the pool (in the admin group if `admin`): their `sub`. With
    `temporary`, `password` is the one an administrator gives a new user, to be changed at the
    first sign-in (FORCE_CHANGE_PASSWORD), as AdminCreateUser leaves every user by default."""
    idp = client("cognito-idp")
    created = idp.admin_create_user(
        UserPoolId=pool.id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
        **({"TemporaryPassword": password} if temporary else {}),
    )
    if not temporary:
        idp.admin_set_user_password(UserPoolId=pool.id, Username=username, Password=password, Permanent=True)
    if admin:
        idp.admin_add_user_to_group(UserPoolId=pool.id, Username=username, GroupName=ADMIN_GROUP)
    return next(a["Value"] for a in created["User"]["Attributes"] if a["Name"] == "sub")


def demo_user(pool: UserPool, username: str, password: str, admin: bool) -> str:
    """A new user of the pool, signed in as users sign in (the custom flow; not enrolled yet,
    so the pool's UnenrolledUsers=allow lets the password through): their ID token."""
    from cognito_flows import custom_sign_in

    create_user(pool, username, password, admin)
    tokens = custom_sign_in(client("cognito-idp"), username, password, pool.id, pool.client_id, [])
    assert tokens, f"{username} could not sign in"
    return tokens["IdToken"]


if __name__ == "__main__":
    deployed = deploy()
    password = "Demo-9x-" + secrets.token_urlsafe(12)
    user = demo_user(deployed.pool, "you@example.com", password, admin=False)
    admin = demo_user(deployed.pool, "admin@example.com", password, admin=True)
    print(f"""
The stack is deployed on the emulator. In another shell:

  export API='{deployed.api_url}'
  export USER_TOKEN='{user}'
  export ADMIN_TOKEN='{admin}'
  curl -s -X POST "$API/v1/totp/enrollment" -H "Authorization: Bearer $USER_TOKEN"

Cognito pool {deployed.pool.id}, app client {deployed.pool.client_id}; both users' password is
{password} (ID tokens last an hour). Sign in again as users do, with the custom flow
(tests/deployed/cognito_flows.py): once enrolled, the sign-in asks for a code, and a
password-only flow gets no tokens (the token guard). Mail the functions sent: {os.environ["MINISTACK_URL"]}/_ministack/ses/messages
Function logs: the emulator's CloudWatch Logs, groups /aws/cloudformation/{STACK_NAME}/*.""")
